"""What every destination tells about a table after a write, read from the table itself: its row
count (counted inside the write), the rows breaking a key check with the first offenders, and its
fully qualified name and URI."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from sage_pipelines.destinations.base import Strategy, TableSpec
from sage_pipelines.destinations.checks import KeyCheck, Rule
from sage_pipelines_tests.destination_kinds import make_destination
from sage_pipelines_tests.destination_scenarios import TEXT_KEY, reader_of

KINDS = ("duckdb", "postgresql", "mysql", "sqlserver", "iceberg", "delta", "hudi")


def spec(namespace: str, strategy: Strategy, **kw: Any) -> TableSpec:
    return TableSpec(name=f"t_{uuid.uuid4().hex[:8]}", schema=namespace, strategy=strategy, columns=TEXT_KEY, **kw)


def row(codigo: str, semana: str | None, monto: str) -> dict[str, Any]:
    return {"codigo": codigo, "semana": semana, "monto": Decimal(monto)}


@pytest.mark.parametrize("kind", KINDS)
def test_a_write_reports_the_tables_rows_after_it_not_the_uploads(kind, request, tmp_path):
    destination, namespace = make_destination(kind, request, tmp_path)
    table = spec(namespace, Strategy.DELETE_INSERT, primary_key=("codigo",), delete_by=("semana",))
    week = [row("a", "1", "1.00"), row("b", "1", "2.00"), row("c", "2", "3.00")]
    first = destination.write(reader_of(week, TEXT_KEY), table, "u1")
    second = destination.write(reader_of([row("d", "1", "4.00")], TEXT_KEY), table, "u2")  # replaces week 1
    assert (first.rows, first.table_rows) == (3, 3)
    assert (second.rows, second.deleted, second.table_rows) == (1, 2, 2)


@pytest.mark.parametrize("strategy", [Strategy.APPEND, Strategy.TRUNCATE_INSERT, Strategy.UPSERT])
@pytest.mark.parametrize("kind", KINDS)
def test_every_strategy_reports_the_tables_rows_after_its_write(kind, strategy, request, tmp_path):
    destination, namespace = make_destination(kind, request, tmp_path)
    table = spec(namespace, strategy, primary_key=("codigo",))
    destination.write(reader_of([row("a", "1", "1.00"), row("b", "1", "2.00")], TEXT_KEY), table, "u1")
    second = destination.write(reader_of([row("c", "2", "3.00")], TEXT_KEY), table, "u2")
    expected = {Strategy.APPEND: 3, Strategy.TRUNCATE_INSERT: 1, Strategy.UPSERT: 3}[strategy]
    assert second.table_rows == expected == len(destination.read(table))


@pytest.mark.parametrize("kind", KINDS)
def test_upsert_says_how_many_upload_rows_a_later_row_of_their_key_replaced(kind, request, tmp_path):
    destination, namespace = make_destination(kind, request, tmp_path)
    table = spec(namespace, Strategy.UPSERT, primary_key=("codigo",))
    upload = [row("a", "1", "1.00"), row("a", "2", "2.00"), row("b", "1", "3.00")]
    result = destination.write(reader_of(upload, TEXT_KEY), table, "u1")
    assert (result.rows, result.superseded, result.written, result.table_rows) == (2, 1, 3, 2)


@pytest.mark.parametrize("kind", KINDS)
def test_violations_count_duplicate_keys_and_nulls_with_the_first_offenders(kind, request, tmp_path):
    destination, namespace = make_destination(kind, request, tmp_path)
    table = spec(namespace, Strategy.APPEND, primary_key=("codigo",))
    destination.write(reader_of([row("a", "1", "1.00"), row("b", None, "2.00")], TEXT_KEY), table, "u1")
    destination.write(reader_of([row("a", "2", "3.00"), row("c", "2", "4.00")], TEXT_KEY), table, "u2")  # `a` again
    unique_key, not_null, unique_week, clean = destination.violations(table, [
        KeyCheck(Rule.UNIQUE, ("codigo",)), KeyCheck(Rule.NOT_NULL, ("semana",)),
        KeyCheck(Rule.UNIQUE, ("semana",)), KeyCheck(Rule.NOT_NULL, ("codigo", "monto"))])
    assert (unique_key.count, unique_key.samples) == (1, [{"codigo": "a", "rows": 2}])
    assert (not_null.count, not_null.samples) == (1, [{"semana": None}])
    assert (unique_week.count, unique_week.samples) == (1, [{"semana": "2", "rows": 2}])  # the NULL is not a value
    assert (clean.count, clean.samples) == (0, [])


@pytest.mark.parametrize("kind", KINDS)
def test_a_table_is_located_by_its_fully_qualified_name(kind, request, tmp_path):
    destination, namespace = make_destination(kind, request, tmp_path)
    table = spec(namespace, Strategy.APPEND)
    destination.write(reader_of([row("a", "1", "1.00")], TEXT_KEY), table, "u1")
    location = destination.locate(table)
    assert location.name.endswith(f"{namespace}.{table.name}") and location.name.count(".") >= 1
    if kind == "duckdb":
        assert (location.name, location.uri) == (f"w.main.{table.name}", str(tmp_path / "w.duckdb"))
    elif kind in ("iceberg", "delta", "hudi"):
        assert location.name == f"lake.{namespace}.{table.name}"
        assert location.uri.startswith("file://") and location.uri.endswith(f"/{table.name}")
    else:
        assert location.uri is None
