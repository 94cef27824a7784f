"""The pieces shared by the lake destinations: transforms, storage options, keys, schema policy."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from sage_pipelines.destinations.base import LakeSettings, Partitioning, Strategy, TableSpec
from sage_pipelines.destinations.lake.partitioning import Transform, parse_transform, partition_fields
from sage_pipelines.destinations.lake.rows import key_ranges, last_per_key, matches, prepare
from sage_pipelines.destinations.lake.schema import conform
from sage_pipelines.destinations.lake.storage import (
    delta_storage_options,
    filesystem,
    iceberg_properties,
    table_uri,
)
from sage_pipelines.errors import ConfigError, SageError
from sage_pipelines.types import Column, ColumnType, Kind


@pytest.mark.parametrize("text, expected", [
    ("identity", Transform("identity")), ("MONTH", Transform("month")),
    ("bucket[16]", Transform("bucket", 16)), ("truncate[ 4 ]", Transform("truncate", 4)),
])
def test_transforms_parse(text, expected):
    assert parse_transform(text) == expected


@pytest.mark.parametrize("text", ["hour", "bucket", "month[2]", "truncate[0]", "bucket[x]"])
def test_unknown_or_malformed_transforms_are_refused_in_one_line(text):
    with pytest.raises(ConfigError, match="transform"):
        parse_transform(text)


def test_a_partition_column_must_be_a_column_of_the_table():
    with pytest.raises(ConfigError, match="'semana'"):
        partition_fields(Partitioning(("semana",), "identity"), ["id", "fecha"], "ns.t")


def _s3_settings(**credentials: str) -> LakeSettings:
    return LakeSettings(name="s3lake", warehouse="s3://bucket/lake", format="iceberg",
                        options={"region": "eu-west-1"}, credentials=lambda: credentials)


def test_s3_credentials_become_each_librarys_own_options():
    settings = _s3_settings(access_key_id="AK", secret_access_key="SK", endpoint="http://minio:9000")
    assert iceberg_properties(settings) == {
        "s3.region": "eu-west-1", "s3.access-key-id": "AK", "s3.secret-access-key": "SK",
        "s3.endpoint": "http://minio:9000"}
    assert delta_storage_options(settings) == {
        "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK",
        "AWS_ENDPOINT_URL": "http://minio:9000", "AWS_ALLOW_HTTP": "true"}
    fs, root = filesystem(settings)
    assert isinstance(fs, pafs.S3FileSystem) and root == "bucket/lake"


def test_credentials_in_another_librarys_spelling_are_recognised():
    settings = _s3_settings(aws_access_key_id="AK", aws_secret_access_key="SK")
    assert iceberg_properties(settings)["s3.access-key-id"] == "AK"


def test_settings_never_show_credentials():
    assert "SK" not in repr(_s3_settings(secret_access_key="SK"))


def test_table_locations_are_warehouse_namespace_table(tmp_path):
    assert table_uri("s3://b/lake/", "ventas", "fact") == "s3://b/lake/ventas/fact"
    assert table_uri(tmp_path.as_uri(), "ventas", "fact") == f"{tmp_path.as_uri()}/ventas/fact"
    with pytest.raises(ConfigError):
        table_uri("s3://b/lake", "..", "fact")


def test_last_row_per_key_wins_and_order_is_kept():
    t = pa.table({"id": [1, 2, 1, 3, 2], "v": ["a", "b", "c", "d", "e"]})
    assert last_per_key(t, ["id"]).to_pydict() == {"id": [1, 3, 2], "v": ["c", "d", "e"]}


def test_composite_keys_match_on_every_column():
    existing = pa.table({"id": [1, 1, 2], "s": [Decimal("1.5"), Decimal("2.5"), Decimal("1.5")]})
    keys = pa.table({"id": [1], "s": [Decimal("2.5")]})
    assert matches(existing, keys).to_pylist() == [False, True, False]


def _spec(strategy: Strategy, **kw) -> TableSpec:
    cols = (Column("id", ColumnType(Kind.INTEGER)), Column("v", ColumnType(Kind.TEXT)))
    return TableSpec(name="t", schema="ns", columns=cols, strategy=strategy, **kw)


def test_a_null_key_is_refused_naming_the_column():
    upload = pa.table({"id": [1, None], "v": ["a", "b"]})
    with pytest.raises(SageError, match="'id'"):
        prepare(upload, _spec(Strategy.UPSERT, primary_key=("id",)))


def test_key_ranges_list_few_values_and_bound_many():
    few = key_ranges(pa.table({"id": [3, 1, 2]}))[0]
    many = key_ranges(pa.table({"id": list(range(1000))}))[0]
    assert (sorted(few.values), few.low, few.high) == ([1, 2, 3], 1, 3)
    assert (many.values, many.low, many.high) == (None, 0, 999)


def test_conform_fills_missing_columns_with_nulls_and_casts():
    schema = pa.schema([("id", pa.int64()), ("m", pa.decimal128(38, 10)), ("x", pa.string())])
    out = conform(pa.table({"m": pa.array([Decimal("1.25")], pa.decimal128(12, 2)), "id": [7]}), schema)
    assert out.schema == schema and out.to_pylist() == [{"id": 7, "m": Decimal("1.25"), "x": None}]
