"""Writers in processes of their own, killed with SIGKILL, and what each engine says afterwards.

A write runs in a child process forked from a `forkserver` that has already imported every
destination's driver (so a child starts in milliseconds, not the seconds an import of pyarrow,
deltalake and pyiceberg takes). The child builds its upload, tells the parent it starts, and
writes through the registry's destination class, the same one the IO manager opens. The parent
kills it (`SIGKILL`, nothing runs in the child after it) after a random delay, then judges the
table with the engine's own client, never with our destination code:

- `checksum`: an order-independent digest of the table's rows (declared columns and
  `_sage_upload_id`; `_sage_loaded_at` is a clock value), computed by the database itself
  (DuckDB `hash`, PostgreSQL `md5`, MariaDB `MD5`) or over the rows read by pyiceberg,
  deltalake or hudi-rs;
- `leftovers`: what a dead write may leave behind: staging tables, held locks (PostgreSQL
  advisory lock, MariaDB `GET_LOCK`, the dead session itself), temporary files in the child's
  own TMPDIR, and, in a lake table, files that no committed version references (data files of
  an uncommitted write, Hudi pending instants).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
import os
import random
import signal
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pymysql
from deltalake import DeltaTable
from hudi import HudiTableBuilder
from pyiceberg.catalog.sql import SqlCatalog

from sage_pipelines.destinations.base import ConnectionSettings, LakeSettings, Strategy, TableSpec
from sage_pipelines.destinations.hudi.timeline import _parse
from sage_pipelines.destinations.mysql.destination import MySQLDialect
from sage_pipelines.destinations.registry import open_destination
from sage_pipelines.destinations.sql import Target
from sage_pipelines.errors import SageError
from sage_pipelines.types import Column, ColumnType, Kind

KINDS = ("duckdb", "postgresql", "mysql", "iceberg", "delta", "hudi")
STRATEGIES = (Strategy.UPSERT, Strategy.DELETE_INSERT, Strategy.TRUNCATE_INSERT)
COLUMNS = (
    Column("id", ColumnType(Kind.INTEGER), nullable=False),
    Column("semana", ColumnType(Kind.INTEGER), nullable=False),
    Column("codigo", ColumnType(Kind.TEXT)),
    Column("monto", ColumnType(Kind.DECIMAL, 18, 2)),
    Column("fecha", ColumnType(Kind.DATE)),
)
NAMES = [c.name for c in COLUMNS] + ["_sage_upload_id"]
WEEKS = 10
# Modules the fork server imports once, so every child starts with them loaded.
PRELOAD = ["sage_pipelines_tests.crash_support", "duckdb", "psycopg", "pymysql", "pyiceberg.catalog.sql",
           "deltalake", "hudi", "sage_pipelines.destinations.duckdb.destination",
           "sage_pipelines.destinations.postgresql.destination", "sage_pipelines.destinations.mysql.destination",
           "sage_pipelines.destinations.iceberg.destination", "sage_pipelines.destinations.delta.destination",
           "sage_pipelines.destinations.hudi.destination"]


def forkserver() -> multiprocessing.context.BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


# --- tables and uploads -----------------------------------------------------------------------

def spec(strategy: Strategy, namespace: str, name: str | None = None) -> TableSpec:
    return TableSpec(name=name or f"c_{uuid.uuid4().hex[:8]}", schema=namespace, strategy=strategy,
                     primary_key=("id",), delete_by=("semana",) if strategy is Strategy.DELETE_INSERT else (),
                     columns=COLUMNS)


def rows(first: int, count: int, tag: str) -> pa.Table:
    """`count` rows with ids from `first`; `semana` = id mod 10, so an upload of a contiguous
    id range touches every week (delete_insert replaces all of them)."""
    ids = pa.array(np.arange(first, first + count, dtype=np.int64))
    semana = pc.cast(pc.remainder(ids, WEEKS), pa.int64())
    codigo = pc.binary_join_element_wise(pa.array([tag] * count), pc.cast(ids, pa.string()), "-")
    monto = pc.cast(pc.divide(pc.cast(ids, pa.float64()), 7.0), pa.decimal128(18, 2))
    start = dt.date(2024, 1, 1).toordinal() - dt.date(1970, 1, 1).toordinal()
    fecha = pc.cast(pc.cast(pc.add(pc.remainder(ids, 365), start), pa.int32()), pa.date32())
    schema = spec(Strategy.UPSERT, "x").arrow_schema
    return pa.Table.from_arrays([ids, semana, codigo, monto, fecha], schema=schema)


def prefill(count: int) -> pa.Table:
    return rows(0, count, "old")


def upload(strategy: Strategy, count: int) -> pa.Table:
    """Upsert: half the prefilled keys updated, as many new; delete_insert and truncate_insert:
    new rows for every week (every old row is replaced)."""
    if strategy is Strategy.UPSERT:
        return rows(count // 2, count, "new")
    return rows(count * 10, count // 2, "new")


def write(settings: ConnectionSettings | LakeSettings, table: TableSpec, data: pa.Table, upload_id: str) -> Any:
    return open_destination(settings).write(data.to_reader(max_chunksize=4096), table, upload_id)


# --- the child ---------------------------------------------------------------------------------

def child_write(settings: Any, table: TableSpec, data: pa.Table, upload_id: str, scratch: str, pipe: Any,
                go: Any = None) -> None:
    """In the child: TMPDIR = `scratch` (so its temporary files can be counted), then one write.
    Sends ("start", None) right before writing, then ("done", seconds) or ("error", message)."""
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = scratch
    destination = open_destination(settings)
    reader = data.to_reader(max_chunksize=4096)
    if go is not None:
        pipe.send(("ready", None))
        go.wait()
    pipe.send(("start", None))
    started = time.perf_counter()
    try:
        destination.write(reader, table, upload_id)
    except SageError as exc:
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    pipe.send(("done", time.perf_counter() - started))


@dataclass
class Child:
    process: Any
    pipe: Any
    scratch: Path

    def receive(self, timeout: float = 300) -> tuple[str, Any]:
        if not self.pipe.poll(timeout):
            raise AssertionError(f"child {self.process.pid} said nothing in {timeout} s")
        return self.pipe.recv()


def start_child(ctx: Any, settings: Any, table: TableSpec, data: pa.Table, upload_id: str, scratch: Path,
                go: Any = None) -> Child:
    scratch.mkdir(parents=True, exist_ok=True)
    parent_end, child_end = ctx.Pipe()
    process = ctx.Process(target=child_write, args=(settings, table, data, upload_id, str(scratch), child_end, go))
    process.start()
    child_end.close()
    return Child(process, parent_end, scratch)


def timed_write(ctx: Any, settings: Any, table: TableSpec, data: pa.Table, upload_id: str, scratch: Path) -> float:
    """A whole write in a child: its seconds (what kill delays are drawn from)."""
    child = start_child(ctx, settings, table, data, upload_id, scratch)
    assert child.receive()[0] == "start"
    status, value = child.receive()
    child.process.join(60)
    assert status == "done", value
    return value


def killed_write(ctx: Any, settings: Any, table: TableSpec, data: pa.Table, upload_id: str, scratch: Path,
                 delay: float) -> bool:
    """Start a write in a child and SIGKILL it `delay` seconds after it starts writing. True when
    the kill landed before the write returned (False: the write had finished)."""
    child = start_child(ctx, settings, table, data, upload_id, scratch)
    status, _ = child.receive()
    assert status == "start", status
    finished = child.pipe.poll(delay)
    os.kill(child.process.pid, signal.SIGKILL)
    child.process.join(30)
    assert child.process.exitcode == -signal.SIGKILL or finished, child.process.exitcode
    return not finished


# --- per engine: settings, checksum, leftovers ---------------------------------------------------

@dataclass
class Engine:
    """One destination under test: settings for writers, its namespace, and its own client."""

    kind: str
    settings: Any
    namespace: str
    root: Path  # the lake or DuckDB file's folder
    tables: list[str] = field(default_factory=list)

    # --- checksum --------------------------------------------------------------------------

    def checksum(self, table: TableSpec) -> tuple[int, str]:
        return getattr(self, f"_checksum_{self.kind}")(table)

    def _checksum_duckdb(self, table: TableSpec) -> tuple[int, str]:
        with duckdb.connect(self.settings.database, read_only=True) as conn:
            n, digest = conn.execute(
                f'SELECT count(*), coalesce(sum(hash({", ".join(map(_dq, NAMES))})::HUGEINT), 0)::VARCHAR '
                f'FROM {_dq(self.namespace)}.{_dq(table.name)}').fetchone()
        return int(n), digest

    def _checksum_postgresql(self, table: TableSpec) -> tuple[int, str]:
        row = ", ".join(map(_dq, NAMES))
        with psycopg.connect(_pg_url(self.settings), autocommit=True) as conn:
            n, digest = conn.execute(
                f"SELECT count(*), coalesce(sum(('x' || left(md5(ROW({row})::text), 15))::bit(60)::bigint), 0)::text "
                f"FROM {_dq(self.namespace)}.{_dq(table.name)}").fetchone()
        return int(n), digest

    def _checksum_mysql(self, table: TableSpec) -> tuple[int, str]:
        row = ", ".join(f"IFNULL(`{n}`, '<null>')" for n in NAMES)
        with _mysql(self.settings) as cur:
            cur.execute(f"SELECT COUNT(*), CAST(IFNULL(SUM(CAST(CONV(LEFT(MD5(CONCAT_WS('|', {row})), 15), 16, 10) "
                        f"AS UNSIGNED)), 0) AS CHAR) FROM `{self.namespace}`.`{table.name}`")
            n, digest = cur.fetchone()
        return int(n), str(digest)

    def _checksum_iceberg(self, table: TableSpec) -> tuple[int, str]:
        data = self._catalog().load_table((self.namespace, table.name)).scan(selected_fields=tuple(NAMES)).to_arrow()
        return _digest(data)

    def _checksum_delta(self, table: TableSpec) -> tuple[int, str]:
        location = self.root / "lake" / self.namespace / table.name
        files = DeltaTable(str(location)).file_uris()
        # Files written by merge and by write_deltalake type text as string_view or string.
        parts = [pq.read_table(f.removeprefix("file://"), columns=NAMES).cast(_plain_schema()) for f in files]
        return _digest(pa.concat_tables(parts) if parts else None)

    def _checksum_hudi(self, table: TableSpec) -> tuple[int, str]:
        location = self.root / "lake" / self.namespace / table.name
        batches = HudiTableBuilder.from_base_uri(str(location)).build().read()
        return _digest(pa.Table.from_batches(batches).select(NAMES) if batches else None)

    def count(self, table: TableSpec) -> int:
        """The table's row count as a reader sees it now: `count(*)` in a database; in a lake,
        the current snapshot / version's count (Iceberg, Delta) or the rows hudi-rs reads."""
        if self.kind == "iceberg":
            return self._catalog().load_table((self.namespace, table.name)).scan().count()
        if self.kind == "delta":
            return DeltaTable(str(self.root / "lake" / self.namespace / table.name)).count()
        if self.kind == "hudi":  # the committed file slices hudi-rs lists, counted by their Parquet footers
            location = self.root / "lake" / self.namespace / table.name
            slices = HudiTableBuilder.from_base_uri(str(location)).build().get_file_slices()
            return sum(pq.ParquetFile(location / s.base_file_relative_path()).metadata.num_rows for s in slices)
        if self.kind == "postgresql":
            with psycopg.connect(_pg_url(self.settings), autocommit=True) as conn:
                return conn.execute(f"SELECT count(*) FROM {_dq(self.namespace)}.{_dq(table.name)}").fetchone()[0]
        if self.kind == "mysql":
            with _mysql(self.settings) as cur:
                cur.execute(f"SELECT COUNT(*) FROM `{self.namespace}`.`{table.name}`")
                return cur.fetchone()[0]
        return self.checksum(table)[0]

    def _catalog(self) -> SqlCatalog:
        return SqlCatalog("lake", uri=f"sqlite:///{self.root / 'lake' / 'catalog.db'}",
                          warehouse=(self.root / "lake").as_uri())

    # --- leftovers -------------------------------------------------------------------------

    def leftovers(self, table: TableSpec, scratch: Path, settle: float = 30) -> list[str]:
        """What a dead write left: [] when nothing. Sessions and locks of a killed client end when
        the server notices the closed socket, so those are waited for (up to `settle` s). A lake
        table's files are judged by `lake_leftovers`, after the next write."""
        found = [f"temporary file {p.relative_to(scratch)}" for p in sorted(scratch.rglob("*"))]
        if self.kind in ("duckdb", "postgresql", "mysql"):
            found += getattr(self, f"_leftovers_{self.kind}")(table, settle)
        return found

    def lake_leftovers(self, table: TableSpec) -> list[str]:
        """Files in a lake table's folder that no committed version references, and pending
        Hudi instants ([] for a database)."""
        if self.kind in ("duckdb", "postgresql", "mysql"):
            return []
        return getattr(self, f"_leftovers_{self.kind}")(table, 0)

    def _leftovers_duckdb(self, table: TableSpec, settle: float) -> list[str]:
        with duckdb.connect(self.settings.database, read_only=True) as conn:
            names = {r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        extra = [f"table {n}" for n in sorted(names - set(self.tables))]
        files = {p.name for p in self.root.iterdir() if not p.name.startswith("scratch")} - {"w.duckdb", "w.duckdb.wal"}
        return extra + [f"file {n}" for n in sorted(files)]

    def _leftovers_postgresql(self, table: TableSpec, settle: float) -> list[str]:
        tag = self.settings.options["application_name"]
        key = f"sage:{self.namespace}.{table.name}"
        with psycopg.connect(_pg_url(self.settings), autocommit=True) as conn:
            sessions = _settled(settle, lambda: conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND pid <> pg_backend_pid()",
                (tag,)).fetchone()[0])
            locks = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND "
                "((classid::bigint << 32) | objid::bigint) = hashtextextended(%s, 0)", (key,)).fetchone()[0]
            names = {r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (self.namespace,)).fetchall()}
        found = [f"table {n}" for n in sorted(names - set(self.tables))]
        found += [f"{sessions} session(s) of the killed writer"] if sessions else []
        found += [f"advisory lock {key}"] if locks else []
        return found

    def _leftovers_mysql(self, table: TableSpec, settle: float) -> list[str]:
        lock = MySQLDialect._lock_name(Target(self.namespace, table.name))
        with _mysql(self.settings) as cur:
            def holder() -> int:
                cur.execute("SELECT IS_USED_LOCK(%s)", (lock,))
                return cur.fetchone()[0] or 0
            held = _settled(settle, holder)
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                        (self.namespace,))
            names = {r[0] for r in cur.fetchall()}
        found = [f"table {n}" for n in sorted(names - set(self.tables))]
        return found + ([f"named lock {lock} held by connection {held}"] if held else [])

    def _leftovers_iceberg(self, table: TableSpec, settle: float) -> list[str]:
        t = self._catalog().load_table((self.namespace, table.name))
        referenced = {t.metadata_location} | {e.metadata_file for e in t.metadata.metadata_log}
        for snapshot in t.metadata.snapshots:
            referenced.add(snapshot.manifest_list)
            for manifest in snapshot.manifests(t.io):
                referenced.add(manifest.manifest_path)
                referenced.update(e.data_file.file_path for e in manifest.fetch_manifest_entry(t.io, discard_deleted=False))
        location = Path(t.metadata.location.removeprefix("file://"))
        on_disk = {p.as_uri() for p in location.rglob("*") if p.is_file()}
        known = {_file_uri(r) for r in referenced}
        return [f"unreferenced file {Path(u.removeprefix('file://')).relative_to(location)}"
                for u in sorted(on_disk - known)]

    def _leftovers_delta(self, table: TableSpec, settle: float) -> list[str]:
        location = self.root / "lake" / self.namespace / table.name
        referenced: set[str] = set()
        for entry in sorted((location / "_delta_log").glob("*.json")):
            for line in entry.read_text().split("\n"):
                action = json.loads(line) if line.strip() else {}
                for kind in ("add", "remove"):
                    if kind in action:
                        referenced.add(action[kind]["path"])
        found = []
        for p in sorted(location.rglob("*")):
            rel = p.relative_to(location).as_posix()
            if p.is_file() and not rel.startswith("_delta_log/") and rel not in referenced:
                found.append(f"unreferenced file {rel}")
            elif p.is_file() and rel.startswith("_delta_log/") and not p.name[:20].isdigit():
                found.append(f"log temporary file {rel}")
        return found

    def _leftovers_hudi(self, table: TableSpec, settle: float) -> list[str]:
        location = self.root / "lake" / self.namespace / table.name
        instants = [i for i in map(_parse, (p.name for p in (location / ".hoodie").iterdir())) if i]
        completed = {i.timestamp for i in instants if i.state == "completed"}
        found = [f"pending instant {i.file_name}" for i in instants if i.timestamp not in completed]
        for p in sorted(location.rglob("*.parquet")):
            if p.stem.rsplit("_", 1)[1] not in completed:
                found.append(f"uncommitted data file {p.relative_to(location)}")
        found += [f"temporary file {p.name}" for p in (location / ".hoodie" / ".aux").glob("*.tmp")]
        return found


def _dq(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _file_uri(uri: str) -> str:
    return Path(uri.removeprefix("file://")).resolve().as_uri()


def _digest(data: pa.Table | None) -> tuple[int, str]:
    """An order-independent digest of rows read by a lake's own reader (sorted, then hashed)."""
    if data is None or data.num_rows == 0:
        return 0, hashlib.sha256(b"").hexdigest()
    columns = [data.column(n).to_pylist() for n in NAMES]
    lines = sorted(repr(tuple(_plain(v) for v in r)) for r in zip(*columns))
    return len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _plain_schema() -> pa.Schema:
    declared = spec(Strategy.UPSERT, "x").arrow_schema
    return pa.schema([pa.field(f.name, f.type) for f in declared] + [pa.field("_sage_upload_id", pa.string())])


def _plain(value: Any) -> Any:
    return format(value, "f") if isinstance(value, Decimal) else value


def _settled(seconds: float, count: Any) -> int:
    """Poll `count()` until it is 0 or `seconds` passed; its last value."""
    deadline = time.monotonic() + seconds
    while True:
        n = count()
        if not n or time.monotonic() > deadline:
            return n
        time.sleep(0.1)


def _pg_url(settings: ConnectionSettings) -> str:
    return f"postgresql://{settings.user}@{settings.host}:{settings.port}/{settings.database}"


class _mysql:
    def __init__(self, settings: ConnectionSettings):
        self.conn = pymysql.connect(host=settings.host, port=settings.port, user=settings.user, password="",
                                    autocommit=True)

    def __enter__(self) -> Any:
        self.cur = self.conn.cursor()
        return self.cur

    def __exit__(self, *exc: Any) -> None:
        self.cur.close()
        self.conn.close()


# Kill delays reach a little past the measured write: a killed write may run slower than the
# measured one, and its commit is at its very end.
SPAN = 1.2


def draw_delays(seconds: float, points: int, seed: int) -> list[float]:
    """`points` kill delays spread over a write of `seconds` (times `SPAN`): one per equal slice,
    at a random place inside it (so a few points still cover the write from start to end)."""
    rng = random.Random(seed)
    return [SPAN * seconds * (i + rng.random()) / points for i in range(points)]
