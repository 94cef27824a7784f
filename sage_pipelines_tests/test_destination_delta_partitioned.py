"""Partitioned Delta tables: `partition_by` the columns (time transforms as derived columns),
files land in their partition directories, and a write touching one partition rewrites only
that partition's files."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from sage_pipelines.destinations.base import LakeSettings, Partitioning, Strategy, TableSpec
from sage_pipelines.destinations.delta.destination import DeltaDestination
from sage_pipelines.errors import ConfigError
from sage_pipelines_tests.conftest import unique_name
from sage_pipelines_tests.destination_scenarios import COLUMNS, expected_table, normalized, reader_of, row, stored_rows

MONTHS = {1: dt.date(2024, 1, 15), 2: dt.date(2024, 2, 15), 3: dt.date(2024, 3, 15)}


@pytest.fixture
def destination(tmp_path) -> DeltaDestination:
    return DeltaDestination(LakeSettings(name="lake", warehouse=(tmp_path / "lake").as_uri(), format="delta"))


def _spec(strategy: Strategy, partitioning: Partitioning, **kw) -> TableSpec:
    kw.setdefault("primary_key", ("id",))
    return TableSpec(name=f"t_{uuid.uuid4().hex[:8]}", schema=unique_name("ns"), strategy=strategy,
                     columns=COLUMNS, partitioning=partitioning, **kw)


def _three_weeks() -> list[dict]:
    return [row(m * 100 + i, semana=m, fecha=MONTHS[m], monto=Decimal(i)) for m in MONTHS for i in range(5)]


def _live_files(destination, spec) -> set[str]:
    return set(destination.load(spec).file_uris())


def test_identity_partitioning_puts_each_value_in_its_directory(destination):
    spec = _spec(Strategy.UPSERT, Partitioning(("semana",)))
    destination.write(reader_of(_three_weeks()), spec, "u1")
    table = destination.load(spec)
    assert table.metadata().partition_columns == ["semana"]
    files = _live_files(destination, spec)
    assert len(files) == 3
    for uri in files:
        week = int(uri.split("semana=")[1].split("/")[0])
        ids = pq.read_table(uri.removeprefix("file://")).column("id").to_pylist()
        assert sorted(ids) == [week * 100 + i for i in range(5)]


def test_an_upsert_touching_one_partition_rewrites_only_that_partitions_files(destination):
    spec = _spec(Strategy.UPSERT, Partitioning(("semana",)), primary_key=("id", "semana"))
    u1 = ("u1", _three_weeks())
    destination.write(reader_of(u1[1]), spec, u1[0])
    before = _live_files(destination, spec)
    u2 = ("u2", [row(201, semana=2, fecha=MONTHS[2], codigo="changed"), row(299, semana=2, fecha=MONTHS[2])])
    result = destination.write(reader_of(u2[1]), spec, u2[0])
    assert result.extra["partitions_touched"] == ["semana=2"]
    assert all(f.startswith("semana=2/") for f in result.extra["removed_files"] + result.extra["added_files"])
    assert {f for f in before if "semana=2" not in f} <= _live_files(destination, spec)
    assert (result.inserted, result.updated) == (1, 1)
    assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))


def test_month_partitioning_adds_a_derived_partition_column(destination):
    spec = _spec(Strategy.DELETE_INSERT, Partitioning(("fecha",), "month"), delete_by=("fecha",))
    u1 = ("u1", _three_weeks())
    destination.write(reader_of(u1[1]), spec, u1[0])
    assert destination.load(spec).metadata().partition_columns == ["fecha_month"]
    u2 = ("u2", [row(900, semana=3, fecha=MONTHS[3])])
    result = destination.write(reader_of(u2[1]), spec, u2[0])
    assert result.extra["partitions_touched"] == ["fecha_month=2024-03"]
    assert (result.deleted, result.inserted) == (5, 1)
    table = destination.read(spec)
    assert set(table.column("fecha_month").to_pylist()) == {"2024-01", "2024-02", "2024-03"}
    assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))


def test_year_and_day_partitioning_derive_their_columns(destination):
    for transform, column, values in [("year", "fecha_year", {2024}), ("day", "fecha_day", set(MONTHS.values()))]:
        spec = _spec(Strategy.UPSERT, Partitioning(("fecha",), transform))
        destination.write(reader_of(_three_weeks()), spec, "u1")
        assert set(destination.read(spec).column(column).to_pylist()) == values


@pytest.mark.parametrize("transform", ["bucket[4]", "truncate[2]"])
def test_transforms_delta_cannot_express_are_refused_before_writing(destination, transform):
    spec = _spec(Strategy.UPSERT, Partitioning(("id",), transform))
    with pytest.raises(ConfigError, match="Delta Lake cannot partition"):
        destination.write(reader_of(_three_weeks()), spec, "u1")
