"""DuckDB destination: the shared scenario suite plus what is particular to DuckDB."""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pytest

from sage_pipelines.destinations.base import ConnectionSettings, Strategy
from sage_pipelines.destinations.duckdb.destination import DuckDBDestination
from sage_pipelines.errors import DestinationError
from sage_pipelines_tests.destination_scenarios import DestinationScenarios, reader_of, row


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def destination(duckdb_path: Path) -> DuckDBDestination:
    return DuckDBDestination(ConnectionSettings(kind="duckdb", name="warehouse", database=str(duckdb_path)))


@pytest.fixture
def namespace() -> str:
    return f"s_{uuid.uuid4().hex[:8]}"  # the database file is the test's own


class TestDuckDBScenarios(DestinationScenarios):
    pass


def test_describe_names_the_connection_schema_and_table(destination, make_spec_for):
    spec = make_spec_for(Strategy.APPEND, schema=None)
    assert destination.describe(spec) == f"duckdb:warehouse/main.{spec.name}"


def test_tables_without_a_schema_go_to_main(destination, duckdb_path, make_spec_for):
    spec = make_spec_for(Strategy.APPEND, schema=None)
    destination.write(reader_of([row(1)]), spec, "u1")
    with duckdb.connect(str(duckdb_path)) as con:
        assert con.execute(f'SELECT count(*) FROM main."{spec.name}"').fetchone() == (1,)


def test_the_connection_schema_is_the_default(duckdb_path, make_spec_for):
    dest = DuckDBDestination(ConnectionSettings(kind="duckdb", name="w", database=str(duckdb_path),
                                                schema="analytics"))
    spec = make_spec_for(Strategy.APPEND, schema=None)
    dest.write(reader_of([row(1)]), spec, "u1")
    assert dest.describe(spec) == f"duckdb:w/analytics.{spec.name}"
    with duckdb.connect(str(duckdb_path)) as con:
        assert con.execute(f'SELECT count(*) FROM analytics."{spec.name}"').fetchone() == (1,)


def test_a_file_that_cannot_be_opened_fails_with_the_connection_name(tmp_path, make_spec_for):
    (tmp_path / "not_a_db.duckdb").write_text("this is not a database")
    dest = DuckDBDestination(ConnectionSettings(kind="duckdb", name="broken",
                                                database=str(tmp_path / "not_a_db.duckdb")))
    with pytest.raises(DestinationError, match="'broken'"):
        dest.write(reader_of([row(1)]), make_spec_for(Strategy.APPEND), "u1")


@pytest.fixture
def make_spec_for():
    from sage_pipelines.destinations.base import TableSpec
    from sage_pipelines_tests.destination_scenarios import COLUMNS

    def make(strategy: Strategy, schema: str | None = "s", **kw) -> TableSpec:
        kw.setdefault("primary_key", ("id",) if strategy is not Strategy.APPEND else ())
        return TableSpec(name=f"t_{uuid.uuid4().hex[:8]}", columns=COLUMNS, schema=schema,
                         strategy=strategy, **kw)
    return make


def test_a_null_delete_by_value_is_refused_and_leaves_the_table_as_it_was(destination, make_spec_for):
    from sage_pipelines.errors import SageError

    spec = make_spec_for(Strategy.DELETE_INSERT, delete_by=("semana",))
    destination.write(reader_of([row(1, semana=1)]), spec, "u1")
    before = destination.read(spec).to_pylist()
    with pytest.raises(SageError):
        destination.write(reader_of([row(2, semana=None)]), spec, "u2")
    assert destination.read(spec).to_pylist() == before
