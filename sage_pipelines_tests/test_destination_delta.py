"""Delta destination: the shared scenario suite read back with deltalake, and what is specific
to Delta (one commit per write, its version and files in the result)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from deltalake import DeltaTable, QueryBuilder

from sage_pipelines.destinations.base import LakeSettings, Strategy, TableSpec
from sage_pipelines.destinations.delta.destination import DeltaDestination
from sage_pipelines.errors import DestinationError
from sage_pipelines.types import Column, ColumnType, Kind
from sage_pipelines_tests.conftest import unique_name
from sage_pipelines_tests.destination_scenarios import COLUMNS, DestinationScenarios, reader_of, row


@pytest.fixture
def lake_settings(tmp_path) -> LakeSettings:
    return LakeSettings(name="lake", warehouse=(tmp_path / "lake").as_uri(), format="delta")


@pytest.fixture
def namespace() -> str:
    return unique_name("ns")


@pytest.fixture
def destination(lake_settings) -> DeltaDestination:
    return DeltaDestination(lake_settings)


class TestDeltaScenarios(DestinationScenarios):
    pass


def _spec(namespace: str, strategy: Strategy, columns=COLUMNS, **kw) -> TableSpec:
    kw.setdefault("primary_key", ("id",) if strategy is not Strategy.APPEND else ())
    return TableSpec(name=f"t_{uuid.uuid4().hex[:8]}", schema=namespace, strategy=strategy,
                     columns=columns, **kw)


def test_the_table_lives_at_warehouse_namespace_table(destination, namespace, tmp_path):
    spec = _spec(namespace, Strategy.APPEND)
    destination.write(reader_of([row(1)]), spec, "u1")
    table = DeltaTable(str(tmp_path / "lake" / namespace / spec.name))
    # delta-rs's own query engine (its `to_pyarrow_table` can abort the test process at exit)
    assert QueryBuilder().register("t", table).execute("SELECT id FROM t").read_all().column("id").to_pylist() == [1]


def test_each_write_is_one_commit_whose_version_is_reported(destination, namespace):
    spec = _spec(namespace, Strategy.DELETE_INSERT, delete_by=("semana",))
    first = destination.write(reader_of([row(1, semana=1), row(2, semana=2)]), spec, "u1")
    second = destination.write(reader_of([row(3, semana=2)]), spec, "u2")
    table = destination.load(spec)
    assert (first.extra["version"], second.extra["version"], table.version()) == (0, 1, 1)
    assert [h["operation"] for h in table.history()] == ["MERGE", "WRITE"]
    assert second.extra["files_removed"] == 1 and second.extra["files_added"] >= 1
    assert (second.deleted, second.inserted) == (1, 1)


def test_mixed_case_and_quoted_column_names_work_in_merges(destination, namespace):
    columns = (Column("Id Venta", ColumnType(Kind.INTEGER)), Column('Monto "MN"', ColumnType(Kind.DECIMAL, 38, 10)))
    spec = _spec(namespace, Strategy.DELETE_INSERT, columns=columns, primary_key=("Id Venta",))
    rows = [{"Id Venta": 1, 'Monto "MN"': Decimal("1.5")}, {"Id Venta": 2, 'Monto "MN"': Decimal("2.5")}]
    destination.write(reader_of(rows, columns), spec, "u1")
    destination.write(reader_of([{"Id Venta": 2, 'Monto "MN"': Decimal("9.5")}], columns), spec, "u2")
    got = sorted(destination.read(spec).select(["Id Venta", 'Monto "MN"']).to_pylist(), key=lambda r: r["Id Venta"])
    assert got == [{"Id Venta": 1, 'Monto "MN"': Decimal("1.5")}, {"Id Venta": 2, 'Monto "MN"': Decimal("9.5")}]


def test_a_commit_that_cannot_be_written_leaves_the_previous_version_and_a_rerun_succeeds(
        destination, namespace, tmp_path):
    spec = _spec(namespace, Strategy.UPSERT)
    destination.write(reader_of([row(1), row(2)]), spec, "u1")
    before = destination.read(spec).to_pylist()
    # A directory where the next log entry must go: delta-rs writes the data files, then cannot
    # commit (the storage fault a crashed or conflicting writer leaves behind).
    blocker = tmp_path / "lake" / namespace / spec.name / "_delta_log" / f"{1:020d}.json"
    blocker.mkdir()
    with pytest.raises(DestinationError, match="commit"):
        destination.write(reader_of([row(2, codigo="new"), row(3)]), spec, "u2")
    blocker.rmdir()
    assert destination.load(spec).version() == 0
    assert destination.read(spec).to_pylist() == before

    result = destination.write(reader_of([row(2, codigo="new"), row(3)]), spec, "u2")
    assert (result.inserted, result.updated, result.extra["version"]) == (1, 1, 1)
    assert sorted(destination.read(spec).column("codigo").to_pylist()) == ["c", "c", "new"]
