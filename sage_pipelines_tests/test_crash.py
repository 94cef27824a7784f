"""A writer killed with SIGKILL at random points of an upsert, delete_insert and truncate_insert,
on every destination this machine runs (DuckDB, PostgreSQL, MariaDB, Iceberg, Delta, Hudi).

Per kill point: a table is pre-filled to a known state, a child process starts the write and is
killed after a delay drawn across the write's measured duration. Then, read by the engine's own
client: the table holds exactly the rows before or (the kill landed after the commit) exactly
the clean result, nothing of the dead write is left (staging table, lock, session, temporary
file, uncommitted lake file), and running the upload again gives exactly the clean result.

`make test` tries a few points per destination and strategy; `pytest -m crash_long` many.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from sage_pipelines.destinations.base import ConnectionSettings, LakeSettings, Strategy
from sage_pipelines_tests.conftest import MYSQL_HOST, unique_name
from sage_pipelines_tests.crash_support import (
    KINDS,
    STRATEGIES,
    Engine,
    draw_delays,
    forkserver,
    killed_write,
    prefill,
    spec,
    timed_write,
    upload,
    write,
)
from sage_pipelines_tests.test_destination_postgres import pg_settings

# Rows pre-filled per table: big enough that a write takes a while to kill inside of.
ROWS = {"duckdb": 40_000, "postgresql": 30_000, "mysql": 15_000, "iceberg": 25_000, "delta": 25_000,
        "hudi": 25_000}
POINTS, LONG_POINTS = 2, 20
# Iceberg and Delta: a killed write's data / manifest files that no commit references stay until
# the format's own orphan-file maintenance removes them (README, "Reliability": why harmless).
ORPHANS_STAY = ("iceberg", "delta")


@pytest.fixture(scope="module")
def ctx():
    return forkserver()


def make_engine(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if kind == "duckdb":
        settings = ConnectionSettings(kind="duckdb", name="warehouse", database=str(tmp_path / "w.duckdb"))
        return Engine(kind, settings, "main", tmp_path)
    if kind == "postgresql":
        settings = pg_settings(options={"application_name": unique_name("sage_crash")})
        return Engine(kind, settings, request.getfixturevalue("pg_schema"), tmp_path)
    if kind == "mysql":
        database = request.getfixturevalue("mysql_database")
        settings = ConnectionSettings(kind="mysql", name="m", host=MYSQL_HOST, port=3306, user="root",
                                      database=database)
        return Engine(kind, settings, database, tmp_path)
    settings = LakeSettings(name="lake", warehouse=(tmp_path / "lake").as_uri(), format=kind)
    return Engine(kind, settings, unique_name("ns"), tmp_path)


def crash_points(engine: Engine, ctx, strategy: Strategy, points: int, seed: int, tmp_path: Path) -> dict:
    """Kill `points` writes of `strategy`; asserts each point held; returns the tally."""
    rows = ROWS[engine.kind]
    old, new = prefill(rows), upload(strategy, rows)
    reference = spec(strategy, engine.namespace)
    engine.tables.append(reference.name)
    write(engine.settings, reference, old, "prefill")
    before = engine.checksum(reference)
    seconds = timed_write(ctx, engine.settings, reference, new, "upload", tmp_path / "scratch" / "reference")
    clean = engine.checksum(reference)
    assert clean != before and before[0] == rows

    tally = {"tried": 0, "held": 0, "before": 0, "after": 0, "orphans": 0, "seconds": seconds}
    for i, delay in enumerate(draw_delays(seconds, points, seed)):
        table = spec(strategy, engine.namespace)
        engine.tables.append(table.name)
        write(engine.settings, table, old, "prefill")
        assert engine.checksum(table) == before
        scratch = tmp_path / "scratch" / f"p{i}"
        killed_write(ctx, engine.settings, table, new, "upload", scratch, delay)
        tally["tried"] += 1
        state = engine.checksum(table)
        assert state in (before, clean), f"kill at {delay:.3f} s of {seconds:.3f} s left {state}"
        assert engine.leftovers(table, scratch) == [], f"kill at {delay:.3f} s of {seconds:.3f} s"
        write(engine.settings, table, new, "upload")
        assert engine.checksum(table) == clean, f"re-run after a kill at {delay:.3f} s"
        left = engine.lake_leftovers(table)
        orphans = [f for f in left if f.startswith("unreferenced file") and engine.kind in ORPHANS_STAY]
        assert [f for f in left if f not in orphans] == [], f"kill at {delay:.3f} s of {seconds:.3f} s"
        tally["orphans"] += len(orphans)
        tally["held"] += 1
        tally["before" if state == before else "after"] += 1
    return tally


def report(figures, kind: str, strategy: Strategy, tally: dict) -> None:
    figures(f"{kind} {strategy.value}: kill points tried {tally['tried']}, held {tally['held']} "
            f"(table as before: {tally['before']}, already the clean result: {tally['after']}; "
            f"unreferenced files left: {tally['orphans']}; "
            f"write of {ROWS[kind]} rows takes {tally['seconds']:.2f} s)")


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.value)
@pytest.mark.parametrize("kind", KINDS)
def test_a_writer_killed_at_random_points_leaves_the_table_as_before_or_done(
        kind, strategy, ctx, request, tmp_path, figures):
    engine = make_engine(kind, request, tmp_path)
    tally = crash_points(engine, ctx, strategy, POINTS, seed=zlib.crc32(f"{kind} {strategy.value}".encode()), tmp_path=tmp_path)
    report(figures, kind, strategy, tally)


@pytest.mark.crash_long
@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.value)
@pytest.mark.parametrize("kind", KINDS)
def test_many_kill_points(kind, strategy, ctx, request, tmp_path, figures):
    engine = make_engine(kind, request, tmp_path)
    tally = crash_points(engine, ctx, strategy, LONG_POINTS, seed=7, tmp_path=tmp_path)
    report(figures, kind, strategy, tally)
