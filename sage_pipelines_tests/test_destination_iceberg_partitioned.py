"""Partitioned Iceberg tables: the spec follows `partitioning`, files land in their partitions,
and a write touching one partition rewrites only that partition's files."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from urllib.parse import urlparse

import pyarrow.parquet as pq
import pytest
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    IdentityTransform,
    MonthTransform,
    TruncateTransform,
    YearTransform,
)

from sage_pipelines.destinations.base import LakeSettings, Partitioning, Strategy, TableSpec
from sage_pipelines.destinations.iceberg.destination import IcebergDestination
from sage_pipelines_tests.conftest import unique_name
from sage_pipelines_tests.destination_scenarios import COLUMNS, expected_table, normalized, reader_of, row, stored_rows

MONTHS = {1: dt.date(2024, 1, 15), 2: dt.date(2024, 2, 15), 3: dt.date(2024, 3, 15)}


@pytest.fixture
def destination(tmp_path) -> IcebergDestination:
    return IcebergDestination(LakeSettings(name="lake", warehouse=(tmp_path / "lake").as_uri(), format="iceberg"))


def _spec(strategy: Strategy, partitioning: Partitioning, **kw) -> TableSpec:
    kw.setdefault("primary_key", ("id",))
    return TableSpec(name=f"t_{uuid.uuid4().hex[:8]}", schema=unique_name("ns"), strategy=strategy,
                     columns=COLUMNS, partitioning=partitioning, **kw)


def _three_months() -> list[dict]:
    # ids 1xx in January, 2xx in February, 3xx in March: each month's files hold its own id range
    return [row(m * 100 + i, semana=m, fecha=MONTHS[m], monto=Decimal(i)) for m in MONTHS for i in range(5)]


def _live_files(destination, spec) -> set[str]:
    return {task.file.file_path for task in destination.load(spec).scan().plan_files()}


def test_month_partitioning_becomes_the_partition_spec_and_the_file_paths(destination):
    spec = _spec(Strategy.UPSERT, Partitioning(("fecha",), "month"))
    result = destination.write(reader_of(_three_months()), spec, "u1")
    table = destination.load(spec)
    (field,) = table.spec().fields
    assert (table.schema().find_column_name(field.source_id), field.transform) == ("fecha", MonthTransform())
    assert result.extra["partitions_touched"] == ["fecha_month=2024-01", "fecha_month=2024-02",
                                                  "fecha_month=2024-03"]
    files = _live_files(destination, spec)
    assert len(files) == 3
    for path in files:  # every row of a file belongs to the month its path names
        month = int(path.split("fecha_month=2024-")[1][:2])
        dates = pq.read_table(urlparse(path).path).column("fecha").to_pylist()
        assert dates == [MONTHS[month]] * 5


def test_an_upsert_touching_one_month_rewrites_only_that_months_files(destination):
    spec = _spec(Strategy.UPSERT, Partitioning(("fecha",), "month"))
    u1 = ("u1", _three_months())
    destination.write(reader_of(u1[1]), spec, u1[0])
    before = _live_files(destination, spec)
    u2 = ("u2", [row(201, semana=2, fecha=MONTHS[2], codigo="changed"),
                 row(299, semana=2, fecha=MONTHS[2])])
    result = destination.write(reader_of(u2[1]), spec, u2[0])
    after = _live_files(destination, spec)
    assert all("fecha_month=2024-02" in f for f in result.extra["removed_files"] + result.extra["added_files"])
    assert result.extra["partitions_touched"] == ["fecha_month=2024-02"]
    assert {f for f in before if "2024-02" not in f} <= after  # other months' files untouched
    assert (result.inserted, result.updated) == (1, 1)
    assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))


def test_delete_insert_by_the_partition_column_replaces_only_that_partition(destination):
    spec = _spec(Strategy.DELETE_INSERT, Partitioning(("semana",), "identity"), delete_by=("semana",))
    u1 = ("u1", _three_months())
    destination.write(reader_of(u1[1]), spec, u1[0])
    u2 = ("u2", [row(900, semana=3, fecha=MONTHS[3])])
    result = destination.write(reader_of(u2[1]), spec, u2[0])
    assert result.extra["partitions_touched"] == ["semana=3"]
    assert (result.deleted, result.inserted, result.extra["files_removed"]) == (5, 1, 1)
    assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))


@pytest.mark.parametrize("transform, column, expected", [
    ("identity", "semana", IdentityTransform()), ("day", "fecha", DayTransform()),
    ("year", "fecha", YearTransform()), ("bucket[4]", "id", BucketTransform(4)),
    ("truncate[2]", "codigo", TruncateTransform(2)),
])
def test_every_transform_maps_to_the_iceberg_spec_and_reads_back_exactly(destination, transform, column, expected):
    spec = _spec(Strategy.UPSERT, Partitioning((column,), transform))
    u1 = ("u1", [{**r, "codigo": f"{r['id']:05d}"} for r in _three_months()])
    destination.write(reader_of(u1[1]), spec, u1[0])
    table = destination.load(spec)
    assert [f.transform for f in table.spec().fields] == [expected]
    assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1]))
