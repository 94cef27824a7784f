"""Writers and readers of one table at the same time, in processes of their own, on every
destination this machine runs: two writers of different uploads end as one of the two serial
orders (or the later one fails with one clear line and wrote nothing), the same append upload
written twice at once is stored once, and a reader polling a table during a truncate_insert
sees the old rows or the new ones, never an empty table.

Each engine's own client judges (crash_support.Engine). These are the destination layer's
guarantees; the run queue adds its writer scopes on top (one run at a time per DuckDB file and
per Hudi table, `sage/file_writer` / `sage/table_writer` in dagster.yaml), so in a deployment
two runs of those kinds never even reach the destination together.
"""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from sage_pipelines.destinations.base import Strategy
from sage_pipelines_tests.crash_support import KINDS, Engine, prefill, rows, spec, start_child, write
from sage_pipelines_tests.test_crash import ORPHANS_STAY, ctx, make_engine  # noqa: F401 - `ctx` is a fixture

ROWS = 8_000
TRUNCATE_ROWS = 150_000  # a truncate_insert long enough for many reads to fall inside it


def lake_orphans(engine: Engine, table) -> int:
    """Asserts nothing but unreferenced Iceberg / Delta files is left (a commit that lost to the
    other writer and started over leaves its files, as a killed one does); their number."""
    left = engine.lake_leftovers(table)
    orphans = [f for f in left if f.startswith("unreferenced file") and engine.kind in ORPHANS_STAY]
    assert [f for f in left if f not in orphans] == []
    return len(orphans)


def race(ctx, engine: Engine, table, uploads: list[tuple[object, str]], tmp_path) -> list[tuple[str, object]]:
    """Start one child per (data, upload id), release them together, return their outcomes."""
    go = ctx.Event()
    children = [start_child(ctx, engine.settings, table, data, upload_id, tmp_path / f"scratch{i}", go)
                for i, (data, upload_id) in enumerate(uploads)]
    for child in children:
        assert child.receive()[0] == "ready"
    go.set()
    outcomes = []
    for child in children:
        assert child.receive()[0] == "start"
        outcomes.append(child.receive())
        child.process.join(60)
    return outcomes


def serial(engine: Engine, strategy: Strategy, uploads: list[tuple[object, str]]) -> tuple[int, str]:
    """The checksum of a fresh table written by `uploads` one after the other."""
    table = spec(strategy, engine.namespace)
    engine.tables.append(table.name)
    for data, upload_id in uploads:
        write(engine.settings, table, data, upload_id)
    return engine.checksum(table)


@pytest.mark.parametrize("kind", KINDS)
def test_two_writers_of_different_uploads_end_as_one_serial_order(kind, ctx, request, tmp_path, figures):
    engine = make_engine(kind, request, tmp_path)
    a = (rows(0, ROWS, "a"), "upload-a")
    b = (rows(ROWS // 2, ROWS, "b"), "upload-b")  # half of b's keys are a's
    table = spec(Strategy.UPSERT, engine.namespace)  # new: both writers may also race to create it
    engine.tables.append(table.name)
    outcomes = race(ctx, engine, table, [a, b], tmp_path)
    final = engine.checksum(table)
    failed = [value for status, value in outcomes if status == "error"]
    assert all(status in ("done", "error") for status, _ in outcomes), outcomes
    if not failed:
        assert final in (serial(engine, Strategy.UPSERT, [a, b]), serial(engine, Strategy.UPSERT, [b, a]))
    else:
        assert len(failed) == 1, outcomes
        assert "\n" not in failed[0]
        winner = a if outcomes[1][0] == "error" else b
        assert final == serial(engine, Strategy.UPSERT, [winner])
    for i in range(2):
        assert engine.leftovers(table, tmp_path / f"scratch{i}") == []
    orphans = lake_orphans(engine, table)
    figures(f"{kind}: two upserts at once: {len(outcomes) - len(failed)} committed, {len(failed)} refused "
            f"({failed[0][:120] if failed else 'both in one serial order'}); no row lost or duplicated; "
            f"unreferenced files of a retried commit: {orphans}")


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_append_upload_written_twice_at_once_is_stored_once(kind, ctx, request, tmp_path, figures):
    engine = make_engine(kind, request, tmp_path)
    table = spec(Strategy.APPEND, engine.namespace)
    engine.tables.append(table.name)
    write(engine.settings, table, prefill(ROWS), "earlier")
    same = (rows(ROWS, ROWS, "again"), "upload-twice")
    outcomes = race(ctx, engine, table, [same, same], tmp_path)
    failed = [value for status, value in outcomes if status == "error"]
    assert len(failed) < 2 and all("\n" not in f for f in failed), outcomes
    expected = serial(engine, Strategy.APPEND, [(prefill(ROWS), "earlier"), same])
    assert engine.checksum(table) == expected
    orphans = lake_orphans(engine, table)
    figures(f"{kind}: one append upload written twice at once: {2 - len(failed)} committed, {len(failed)} "
            f"refused; the table holds it once ({expected[0]} rows); unreferenced files of a retried commit: "
            f"{orphans}")


@pytest.mark.parametrize("kind", KINDS)
def test_a_reader_during_a_truncate_insert_never_sees_the_table_empty(kind, ctx, request, tmp_path, figures):
    engine = make_engine(kind, request, tmp_path)
    table = spec(Strategy.TRUNCATE_INSERT, engine.namespace)
    engine.tables.append(table.name)
    old, new = prefill(ROWS * 5), rows(100 * ROWS, TRUNCATE_ROWS, "new")
    write(engine.settings, table, old, "old")
    seen: list[int] = []
    if kind == "duckdb":
        # One process per DuckDB file: the reader shares the writer's process (and database
        # instance) and reads through a connection of its own while the write runs in a thread.
        conn = duckdb.connect(engine.settings.database)
        writer = threading.Thread(target=write, args=(engine.settings, table, new, "new"))
        writer.start()
        while writer.is_alive():
            time.sleep(0.002)  # leave the writer thread the GIL between reads
            seen.append(conn.execute(f'SELECT count(*) FROM "main"."{table.name}"').fetchone()[0])
        writer.join()
        conn.close()
    else:
        child = start_child(ctx, engine.settings, table, new, "new", tmp_path / "scratch")
        assert child.receive()[0] == "start"
        while not child.pipe.poll(0):
            seen.append(engine.count(table))
        assert child.receive()[0] == "done"
        child.process.join(60)
    seen.append(engine.checksum(table)[0])
    assert set(seen) <= {old.num_rows, new.num_rows}, sorted(set(seen))
    assert seen[-1] == new.num_rows
    figures(f"{kind}: reads during one truncate_insert: {len(seen) - 1}, saw the old rows "
            f"{seen.count(old.num_rows)} times, the new {seen.count(new.num_rows) - 1}, empty 0")

