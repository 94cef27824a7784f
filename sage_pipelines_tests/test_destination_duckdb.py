"""DuckDB destination: the shared scenario suite plus what is particular to DuckDB."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from sage_pipelines.destinations.base import ConnectionSettings, Strategy
from sage_pipelines.destinations.duckdb.client import close_connection, open_connection
from sage_pipelines.destinations.duckdb.destination import DuckDBDestination
from sage_pipelines.destinations.duckdb.settings import DuckDBSettings
from sage_pipelines.errors import ConfigError, DestinationError
from sage_pipelines.types import arrow_schema
from sage_pipelines_tests.destination_scenarios import COLUMNS, DestinationScenarios, reader_of, row


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


# --- memory: a write is bounded by memory_limit and spills beyond it -------------------------

def _settings(path: Path, **options: str) -> ConnectionSettings:
    return ConnectionSettings(kind="duckdb", name="w", database=str(path), options=options)


def test_a_write_connection_uses_4GB_unless_memory_limit_says_otherwise(duckdb_path):
    for options, expected in (({}, "3.7 GiB"), ({"memory_limit": "1GB"}, "953.6 MiB")):
        conn = open_connection(_settings(duckdb_path, **options))
        try:
            assert conn.execute("SELECT current_setting('memory_limit')").fetchone()[0] == expected
        finally:
            close_connection(conn)


def test_a_memory_limit_that_is_not_a_size_is_refused_naming_the_connection(duckdb_path):
    with pytest.raises(ConfigError, match="'w'.*memory_limit='lots'"):
        DuckDBSettings.of(_settings(duckdb_path, memory_limit="lots"))


def _numbered(n: int, semana: int, batch_rows: int = 100_000) -> pa.RecordBatchReader:
    """Rows 0..n-1 of `semana`, built column-wise (a million rows in well under a second)."""
    schema = arrow_schema(COLUMNS)

    def batches():
        for start in range(0, n, batch_rows):
            ids = pa.array(range(start, min(n, start + batch_rows)), pa.int64())
            size = len(ids)
            yield pa.record_batch([ids, pa.array([semana] * size, pa.int64()), pa.array(["c"] * size),
                                   pa.nulls(size, schema.field("monto").type), pa.nulls(size, pa.date32()),
                                   pa.array([True] * size), pa.nulls(size, pa.string())], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def test_an_upsert_larger_than_memory_limit_spills_and_stays_exact(tmp_path, duckdb_path, make_spec_for):
    spill = tmp_path / "spill"
    spill.mkdir()
    dest = DuckDBDestination(_settings(duckdb_path, memory_limit="64MB", temp_directory=str(spill)))
    spec = make_spec_for(Strategy.UPSERT)
    n = 1_000_000  # about 100 MB staged: more than the limit
    dest.write(_numbered(n, semana=1), spec, "u1")
    result = dest.write(_numbered(n, semana=2), spec, "u2")
    assert (result.inserted, result.updated) == (0, n)
    with duckdb.connect(str(duckdb_path)) as con:
        got = con.execute(f'SELECT count(*), count(DISTINCT id), min(semana), max(semana) '
                          f'FROM {spec.schema}."{spec.name}"').fetchone()
    assert got == (n, n, 2, 2)


SPILLING_WRITER = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1], config={"memory_limit": "32MB", "temp_directory": sys.argv[2]})
conn.execute("CREATE TEMP TABLE s AS SELECT i, md5(i::varchar) AS h FROM range(2000000) t(i)")
print("spilled", flush=True)
time.sleep(60)
"""


def test_opening_the_file_deletes_the_spill_files_a_killed_writer_left(tmp_path, duckdb_path):
    spill = tmp_path / "spill"
    writer = subprocess.Popen([sys.executable, "-c", SPILLING_WRITER, str(duckdb_path), str(spill)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "spilled"
        assert any(p.name.startswith("duckdb_temp_") for p in spill.iterdir())
    finally:
        writer.kill()
        writer.wait()
    conn = open_connection(_settings(duckdb_path, temp_directory=str(spill)))
    try:
        assert [p.name for p in spill.iterdir()] == []
    finally:
        close_connection(conn)
