"""SQL destinations against their own floor: PostgreSQL, MariaDB and DuckDB, N rows of a ventas CSV.

For each database and each of upsert, delete_insert and truncate_insert, one run times:
- ours: the write path from the CSV file to the committed table (casilla reader -> destination)
  into a table holding N rows of which half the upload's keys overlap, timed inside a spawned
  process whose peak RSS is reported (the write's own memory, not the benchmark's);
- floor: the database's own bulk load of the same CSV (PostgreSQL COPY, MariaDB LOAD DATA LOCAL
  INFILE, DuckDB a multi-threaded pyarrow read scanned as Arrow) into a staging table plus the
  same set-based statement(s) of that strategy, driven by hand with the raw driver;
- executemany: the same upsert statement with bound rows, 10,000 per batch;
- pandas to_sql in 10,000-row chunks, with its default method (executemany) and with
  method='multi' (chunks shrunk to fit 65,535 parameters): timed on a subset and extrapolated.
SQL Server has no server here: its `INSERT ... VALUES` batching is measured offline (statements,
round trips and bytes per row, and the client's encoding time).
`run(args)` returns the figures (`Timing` rows, ratio = ours / floor) and prints them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sage_pipelines.bench.e2e import materialize_seconds
from sage_pipelines.bench.harness import in_child, timed
from sage_pipelines.casilla.parser import parse_sage_yaml
from sage_pipelines.casilla.readers import read_catalog_file
from sage_pipelines.destinations.registry import open_destination
from sage_pipelines.destinations.base import ConnectionSettings, Strategy, TableSpec
from sage_pipelines.destinations.sql.staging import StagedRows
from sage_pipelines.destinations.sqlserver.dialect import SQLServerDialect
from sage_pipelines.types import Column, ColumnType, Kind

PG_URL = os.environ.get("SAGE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_HOST = os.environ.get("SAGE_BENCH_MYSQL_HOST", "127.0.0.1")
MYSQL_DATABASE = os.environ.get("SAGE_BENCH_MYSQL_DATABASE", "test")
BATCH = 10_000
SQLSERVER_OFFLINE_ROWS = 200_000  # rows the SQL Server batching is measured on (no server here)
GEN_CHUNK = 200_000

COLUMNS: tuple[Column, ...] = (
    Column("id_venta", ColumnType(Kind.INTEGER)),
    Column("semana", ColumnType(Kind.INTEGER)),
    Column("fecha", ColumnType(Kind.DATE)),
    Column("cliente", ColumnType(Kind.TEXT)),
    Column("producto", ColumnType(Kind.TEXT)),
    Column("cantidad", ColumnType(Kind.INTEGER)),
    Column("precio", ColumnType(Kind.DECIMAL, 12, 2)),
    Column("total", ColumnType(Kind.DECIMAL, 14, 2)),
    Column("canal", ColumnType(Kind.TEXT)),
)
NAMES = [c.name for c in COLUMNS]
SAGE_TYPES = {Kind.INTEGER: "entero", Kind.DATE: "fecha", Kind.TEXT: "texto", Kind.DECIMAL: "decimal"}

SAGE_YAML = "\n".join([
    "sage_yaml: {name: bench_ventas}",
    "catalogs:",
    "  ventas:",
    "    name: Ventas",
    "    filename: ventas.csv",
    "    file_format: {type: CSV, delimiter: ',', header: true}",
    "    fields:",
    *[f"      - {{name: {c.name}, type: {SAGE_TYPES[c.type.kind]}}}" for c in COLUMNS],
])


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--to-sql-rows", type=int, default=50_000,
                       help="rows pandas to_sql is timed on (then extrapolated)")
    group.add_argument("--databases", default="postgresql,mysql,duckdb,sqlserver",
                       help="postgresql,mysql,duckdb,sqlserver (SQL Server: its batching, measured offline)")
    group.add_argument("--repeat", type=int, default=1, help="best of N for ours and the floor")
    group.add_argument("--skip-e2e", action="store_true", help="skip the sage materialize run")


# --- data ------------------------------------------------------------------------------------

def _decimal_text(cents: np.ndarray) -> pa.Array:
    units = pc.cast(pa.array(cents // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0")
    return pc.binary_join_element_wise(units, frac, ".")


def _chunk(start: int, n: int, variant: int) -> pa.Table:
    ids = np.arange(start, start + n, dtype=np.int64)
    cantidad = 1 + (ids + variant) % 20
    precio = 100 + (ids * 37 + variant) % 99_900
    fecha = pa.array((19_723 + ids % 365).astype(np.int32), pa.int32()).cast(pa.date32())
    cliente = pc.binary_join_element_wise(
        "CLI-", pc.utf8_lpad(pc.cast(pa.array(ids * 7 % 10_000), pa.string()), 5, "0"), "")
    producto = pc.binary_join_element_wise("PROD-", pc.cast(pa.array(ids % 500), pa.string()), "")
    canal = pc.take(pa.array(["tienda", "web", "mayorista"]), pa.array((ids + variant) % 3))
    return pa.table({
        "id_venta": ids, "semana": 1 + ids % 52, "fecha": fecha, "cliente": cliente,
        "producto": producto, "cantidad": cantidad, "precio": _decimal_text(precio),
        "total": _decimal_text(precio * cantidad), "canal": canal})


def write_ventas_csv(path: Path, start: int, rows: int, variant: int) -> None:
    """A ventas CSV of `rows` rows with ids from `start`, generated and written in chunks."""
    writer = None
    for offset in range(0, rows, GEN_CHUNK):
        table = _chunk(start + offset, min(GEN_CHUNK, rows - offset), variant)
        if writer is None:
            writer = pacsv.CSVWriter(str(path), table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()


def csv_reader(path: Path) -> pa.RecordBatchReader:
    """The upload as the casilla layer reads it."""
    return read_catalog_file(parse_sage_yaml(SAGE_YAML), path, "ventas", COLUMNS)


def rows_of(path: Path, limit: int | None = None):
    """Plain Python rows in BATCH-sized lists (for executemany / pandas baselines)."""
    reader = csv_reader(path)
    seen = 0
    for batch in reader:
        for start in range(0, batch.num_rows, BATCH):
            part = batch.slice(start, BATCH)
            if limit is not None:
                part = part.slice(0, max(0, limit - seen))
            if part.num_rows == 0:
                return
            seen += part.num_rows
            yield [tuple(r.values()) for r in part.to_pylist()]


# --- timing ----------------------------------------------------------------------------------

STRATEGIES = (Strategy.UPSERT, Strategy.DELETE_INSERT, Strategy.TRUNCATE_INSERT)
FLOOR_LABELS = {Strategy.UPSERT: "bulk load + upsert statement",
                Strategy.DELETE_INSERT: "bulk load + delete matching + insert",
                Strategy.TRUNCATE_INSERT: "bulk load + delete all + insert"}


@dataclass
class Timing:
    """One figure: `seconds` for `rows` rows; `floor` the raw floor of the same strategy timed
    in the same run (ratio = seconds / floor); `rss_mb` the peak RSS of the process that wrote."""

    database: str
    method: str
    seconds: float
    rows: int
    note: str = ""
    floor: float | None = None
    rss_mb: float | None = None

    @property
    def ratio(self) -> float | None:
        return self.seconds / self.floor if self.floor else None


def ours_write(settings: ConnectionSettings, spec: TableSpec, path: Path,
               upload_id: str) -> Callable[[], object]:
    """One write of the CSV by our destination (timed in a child process by `in_child`); the
    destination is opened (its driver imported) before the clock starts."""
    destination = open_destination(settings)
    return lambda: destination.write(csv_reader(path), spec, upload_id)


# --- databases -------------------------------------------------------------------------------

class Bench:
    """One database's runs; subclasses provide the raw floor, executemany and to_sql."""

    kind = ""
    has_peers = True  # executemany and pandas to_sql can drive this database
    max_params = 65_535  # bound parameters per statement (to_sql multi packs a chunk in one)
    settings: ConnectionSettings

    def __init__(self, base: Path, upload: Path, rows: int):
        self.base, self.upload, self.rows = base, upload, rows
        self.table = f"bench_ventas_{uuid.uuid4().hex[:6]}"

    @property
    def destination(self):
        return open_destination(self.settings)

    def spec(self, strategy: Strategy) -> TableSpec:
        return TableSpec(name=self.table, schema=self.schema, columns=COLUMNS, strategy=strategy,
                         primary_key=("id_venta",))

    def ours(self, strategy: Strategy, path: Path, upload_id: str) -> None:
        self.destination.write(csv_reader(path), self.spec(strategy), upload_id)

    def reset(self) -> None:
        """The table back to the base rows (a table keyed by id_venta, as upsert creates it)."""
        self.ours(Strategy.TRUNCATE_INSERT, self.base, "base")

    def settle(self) -> None:
        """Bring the server to the same state before every timed step (no-op by default)."""

    def timed_step(self, fn: Callable[[], object]) -> float:
        self.settle()
        return timed(fn)

    def run_strategy(self, strategy: Strategy, repeat: int) -> tuple[float, float, float]:
        """Best of `repeat`: (ours seconds, peak RSS MB of our write, floor seconds)."""
        ours, floor, rss = float("inf"), float("inf"), 0.0
        for i in range(repeat):
            self.reset()
            self.settle()
            run = in_child(ours_write, self.settings, self.spec(strategy), self.upload, f"u{i}")
            ours, rss = min(ours, run.seconds), max(rss, run.peak_rss_mb)
            self.reset()
            floor = min(floor, self.timed_step(lambda: self.floor(strategy)))
        return ours, rss, floor

    def run(self, to_sql_rows: int, repeat: int = 1) -> list[Timing]:
        n = self.rows
        out: list[Timing] = []
        self.ours(Strategy.UPSERT, self.base, "base")
        for strategy in STRATEGIES:
            ours, rss, floor = self.run_strategy(strategy, repeat)
            out.append(Timing(self.kind, f"ours: {strategy.value}", ours, n, floor=floor, rss_mb=rss))
            out.append(Timing(self.kind, f"floor: {FLOOR_LABELS[strategy]}", floor, n, floor=floor))
        if not self.has_peers:
            return out
        upsert_floor = out[1].seconds
        self.reset()
        out.append(Timing(self.kind, "executemany upsert, 10,000/batch", self.timed_step(self.executemany), n,
                          floor=upsert_floor))
        subset = min(to_sql_rows, n)
        for method in (None, "multi"):
            chunk = min(BATCH, self.max_params // len(NAMES)) if method else BATCH
            seconds = self.timed_step(lambda: self.to_sql(subset, method, chunk))
            label = f"pandas to_sql{' multi' if method else ''}, {chunk:,}/chunk"
            out.append(Timing(self.kind, label, seconds * n / subset, n, floor=upsert_floor,
                              note=f"timed on {subset:,} rows ({seconds:.1f} s), extrapolated; vs upsert floor"))
        return out

    def floor(self, strategy: Strategy) -> None:
        raise NotImplementedError

    def floor_statements(self, source: str, strategy: Strategy, upload_id: str, now: str) -> list[str]:
        """The one set-based statement (two for delete + insert) our strategy runs, from `source`."""
        cols = ", ".join(NAMES)
        insert = (f"INSERT INTO {self.qualified} ({cols}, _sage_upload_id, _sage_loaded_at) "
                  f"SELECT {cols}, '{upload_id}', {now} FROM {source}")
        if strategy is Strategy.UPSERT:
            return [f"{insert} {self.upsert_tail}"]
        if strategy is Strategy.DELETE_INSERT:
            return [self.delete_matching(source), insert]
        return [f"DELETE FROM {self.qualified}", insert]

    def delete_matching(self, source: str) -> str:
        return (f"DELETE FROM {self.qualified} AS t WHERE EXISTS "
                f"(SELECT 1 FROM {source} AS s WHERE s.id_venta = t.id_venta)")

    @property
    def upsert_tail(self) -> str:
        raise NotImplementedError

    def upsert_values_sql(self) -> str:
        cols = NAMES + ["_sage_upload_id", "_sage_loaded_at"]
        marks = ", ".join(["%s"] * len(cols))
        return f"INSERT INTO {self.qualified} ({', '.join(cols)}) VALUES ({marks}) {self.upsert_tail}"

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"


class PostgresBench(Bench):
    kind = "postgresql"

    def __init__(self, *a):
        super().__init__(*a)
        import psycopg
        from urllib.parse import urlparse

        self.psycopg = psycopg
        url = urlparse(PG_URL)
        self.schema = f"sage_bench_{uuid.uuid4().hex[:6]}"
        self.settings = ConnectionSettings(
            kind="postgresql", name="bench", host=url.hostname, port=url.port or 5432,
            user=url.username, database=url.path.lstrip("/"))

    def settle(self) -> None:
        """Every timed step starts from a vacuumed table and a finished checkpoint, so no step
        pays for the dead rows or dirty pages the previous step left."""
        with self.psycopg.connect(PG_URL, autocommit=True) as conn:
            if conn.execute("SELECT to_regclass(%s)", (self.qualified,)).fetchone()[0]:
                conn.execute(f"VACUUM ANALYZE {self.qualified}")
            conn.execute("CHECKPOINT")

    @property
    def upsert_tail(self) -> str:
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in NAMES[1:] + ["_sage_upload_id", "_sage_loaded_at"])
        return f"ON CONFLICT (id_venta) DO UPDATE SET {sets}"

    def floor(self, strategy: Strategy) -> None:
        """COPY of the CSV itself (the server parses it) into a TEMP staging table, then the statement."""
        cols = ", ".join(NAMES)
        with self.psycopg.connect(PG_URL) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE stg ON COMMIT DROP AS SELECT {cols} FROM {self.qualified} WITH NO DATA")
            with cur.copy(f"COPY stg ({cols}) FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                    open(self.upload, "rb") as f:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            for statement in self.floor_statements("stg", strategy, "floor", "localtimestamp"):
                cur.execute(statement)

    def executemany(self) -> None:
        now = dt.datetime.now()
        sql = self.upsert_values_sql()
        with self.psycopg.connect(PG_URL) as conn, conn.cursor() as cur:
            for rows in rows_of(self.upload):
                cur.executemany(sql, [r + ("many", now) for r in rows])

    def to_sql(self, limit: int, method: str | None, chunk: int) -> None:
        import pandas as pd
        import sqlalchemy

        engine = sqlalchemy.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
        frame = pd.DataFrame([r for rows in rows_of(self.upload, limit) for r in rows], columns=NAMES)
        frame.to_sql(f"{self.table}_to_sql", engine, schema=self.schema, if_exists="replace",
                     index=False, chunksize=chunk, method=method)
        engine.dispose()

    def cleanup(self) -> None:
        with self.psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


class MySQLBench(Bench):
    kind = "mariadb"

    def __init__(self, *a):
        super().__init__(*a)
        import pymysql

        self.pymysql = pymysql
        self.schema = f"sage_bench_{uuid.uuid4().hex[:6]}"
        self.settings = ConnectionSettings(
            kind="mysql", name="bench", host=MYSQL_HOST, port=3306, user="root", database=MYSQL_DATABASE)

    def connect(self):
        return self.pymysql.connect(host=MYSQL_HOST, user="root", password="", database=self.schema,
                                    local_infile=True, autocommit=False)

    @property
    def upsert_tail(self) -> str:
        sets = ", ".join(f"{c} = VALUES({c})" for c in NAMES[1:] + ["_sage_upload_id", "_sage_loaded_at"])
        return f"ON DUPLICATE KEY UPDATE {sets}"

    def floor(self, strategy: Strategy) -> None:
        """LOAD DATA LOCAL INFILE of the CSV itself into a TEMPORARY staging table, then the statement."""
        cols = ", ".join(NAMES)
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE TEMPORARY TABLE stg SELECT {cols} FROM {self.qualified} LIMIT 0")
                cur.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE stg CHARACTER SET utf8mb4 "
                            "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' IGNORE 1 LINES "
                            f"({cols})", (str(self.upload),))
                for statement in self.floor_statements("stg", strategy, "floor", "NOW(6)"):
                    cur.execute(statement)
            conn.commit()
        finally:
            conn.close()

    def delete_matching(self, source: str) -> str:
        return f"DELETE t FROM {self.qualified} AS t JOIN {source} AS s ON s.id_venta = t.id_venta"

    def executemany(self) -> None:
        now = dt.datetime.now()
        sql = self.upsert_values_sql()
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                for rows in rows_of(self.upload):
                    cur.executemany(sql, [r + ("many", now) for r in rows])
            conn.commit()
        finally:
            conn.close()

    def to_sql(self, limit: int, method: str | None, chunk: int) -> None:
        import pandas as pd
        import sqlalchemy

        engine = sqlalchemy.create_engine(f"mysql+pymysql://root@{MYSQL_HOST}/{self.schema}")
        frame = pd.DataFrame([r for rows in rows_of(self.upload, limit) for r in rows], columns=NAMES)
        frame.to_sql(f"{self.table}_to_sql", engine, if_exists="replace", index=False, chunksize=chunk, method=method)
        engine.dispose()

    def cleanup(self) -> None:
        conn = self.pymysql.connect(host=MYSQL_HOST, user="root", password="", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{self.schema}`")
        finally:
            conn.close()


class DuckDBBench(Bench):
    """The embedded warehouse. Its floor is FACTS' own: pyarrow `read_csv` with the explicit
    schema, then one INSERT ... ON CONFLICT from the Arrow table (no executemany / to_sql peers:
    pandas has no DuckDB engine here)."""

    kind = "duckdb"
    has_peers = False

    def __init__(self, *a):
        super().__init__(*a)
        self.path = self.base.parent.parent / "bench.duckdb"
        self.schema = "main"
        self.settings = ConnectionSettings(kind="duckdb", name="bench", database=str(self.path))

    upsert_tail = PostgresBench.upsert_tail  # DuckDB speaks PostgreSQL's ON CONFLICT

    def floor(self, strategy: Strategy) -> None:
        import duckdb

        schema = pa.schema([pa.field(c.name, c.type.to_arrow()) for c in COLUMNS])
        upload = pacsv.read_csv(str(self.upload), convert_options=pacsv.ConvertOptions(column_types=schema))
        con = duckdb.connect(str(self.path))
        con.execute("SET enable_progress_bar = false")
        try:
            con.register("upload", upload)
            con.execute("BEGIN")
            for statement in self.floor_statements("upload", strategy, "floor", "localtimestamp"):
                con.execute(statement)
            con.execute("COMMIT")
        finally:
            con.close()

    def cleanup(self) -> None:
        self.path.unlink(missing_ok=True)


# --- SQL Server, offline ----------------------------------------------------------------------

def sqlserver_batching(path: Path, limit: int) -> list[Timing]:
    """SQL Server's bulk path measured without a server: the `INSERT ... VALUES` round trips our
    dialect generates for the first `limit` rows of the upload (statements, round trips and bytes
    per row, and the seconds to encode them on the client)."""
    dialect = SQLServerDialect()
    spec = TableSpec(name="bench_ventas", columns=COLUMNS, strategy=Strategy.UPSERT, primary_key=("id_venta",))
    reader = csv_reader(path)
    head = pa.RecordBatchReader.from_batches(reader.schema, _first_rows(reader, limit))
    rows = StagedRows(head, spec, "u1")
    trips = statements = size = 0
    started = time.perf_counter()
    for batch in rows:
        for trip in dialect.load_statements("#_sage_stage", batch):
            trips += 1
            statements += trip.count(b"INSERT INTO ")
            size += len(trip)
    seconds = time.perf_counter() - started
    n = rows.rows
    note = (f"{n:,} rows: {statements:,} INSERT statements ({n / statements:,.0f} rows each), "
            f"{trips:,} round trips, {size / n:,.0f} bytes/row, {seconds / n * 1e6:,.1f} us/row to encode")
    return [Timing("sqlserver", "offline: encode INSERT ... VALUES batches", seconds, n, note=note)]


def _first_rows(reader: pa.RecordBatchReader, limit: int):
    left = limit
    for batch in reader:
        if left <= 0:
            return
        yield batch.slice(0, left)
        left -= batch.num_rows


# --- report ----------------------------------------------------------------------------------

def print_table(timings: list[Timing]) -> None:
    """Every figure with its ratio to the floor of its strategy and the writer's peak RSS."""
    header = (f"| {'database':<10} | {'method':<38} | {'seconds':>8} | {'rows/s':>10} | {'x floor':>7} | "
              f"{'peak RSS MB':>11} | note")
    print(header)
    print("|" + "|".join("-" * len(p) for p in header.split("|")[1:]))
    for t in timings:
        ratio = f"{t.ratio:.2f}" if t.ratio is not None else ""
        rss = f"{t.rss_mb:,.0f}" if t.rss_mb is not None else ""
        print(f"| {t.database:<10} | {t.method:<38} | {t.seconds:>8.2f} | {t.rows / t.seconds:>10,.0f} | "
              f"{ratio:>7} | {rss:>11} | {t.note}")


def run(args: argparse.Namespace) -> list[Timing]:
    """The SQL figures of one run (also printed): per database and strategy ours / floor."""
    rows = args.rows
    wanted = {d.strip() for d in args.databases.split(",") if d.strip()}
    repeat = getattr(args, "repeat", 1)
    with tempfile.TemporaryDirectory(prefix="sage_bench_") as tmp:
        base, upload = Path(tmp) / "base" / "ventas.csv", Path(tmp) / "upload" / "ventas.csv"
        base.parent.mkdir()
        upload.parent.mkdir()
        write_ventas_csv(base, 0, rows, variant=0)
        write_ventas_csv(upload, rows // 2, rows, variant=1)  # half the keys overlap the base
        print(f"{rows:,} rows; upload CSV {upload.stat().st_size / 1e6:.0f} MB; each strategy writes the "
              f"upload into a table of {rows:,} rows with {rows - rows // 2:,} keys overlapping; "
              f"x floor = seconds / the raw floor of the same strategy in this run (best of {repeat}); "
              "peak RSS = the writing process's",
              flush=True)
        timings: list[Timing] = []
        for cls in (PostgresBench, MySQLBench, DuckDBBench):
            if cls.kind not in wanted and not (cls.kind == "mariadb" and "mysql" in wanted):
                continue
            bench = cls(base, upload, rows)
            try:
                timings += bench.run(args.to_sql_rows, repeat)
            finally:
                bench.cleanup()
            print(f"{cls.kind}: done", flush=True)
            if cls.kind == "postgresql" and not getattr(args, "skip_e2e", False):
                timings.append(Timing("postgresql", "sage materialize (Dagster): upsert",
                                      materialize_seconds(PG_URL, SAGE_YAML, base, upload), rows,
                                      floor=timings[1].seconds,
                                      note="end to end: upload file to committed table, run included"))
        if "sqlserver" in wanted:
            timings += sqlserver_batching(upload, min(rows, SQLSERVER_OFFLINE_ROWS))
        print_table(timings)
    return timings
