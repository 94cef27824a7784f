"""SQL destinations against their own floor: PostgreSQL and MariaDB, N rows of a ventas CSV.

For each database, one run times:
- ours: the write path from the CSV file to the committed table (casilla reader -> destination),
  upsert into a table holding N rows with half the keys overlapping, and truncate_insert;
- floor: the database's own bulk load of the same CSV (COPY / LOAD DATA) into a staging table plus
  the same single SQL statement, driven directly;
- executemany: the same upsert statement with bound rows, 10,000 per batch;
- pandas to_sql in 10,000-row chunks, with its default method (executemany) and with
  method='multi' (chunks shrunk to fit 65,535 parameters): timed on a subset and extrapolated.
Peak RSS is the process's maximum resident set after our writes (the CSV is generated in chunks).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
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
from sage_pipelines.casilla.parser import parse_sage_yaml
from sage_pipelines.casilla.readers import read_catalog_file
from sage_pipelines.destinations.registry import open_destination
from sage_pipelines.destinations.base import ConnectionSettings, Strategy, TableSpec
from sage_pipelines.types import Column, ColumnType, Kind

PG_URL = os.environ.get("SAGE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_HOST = os.environ.get("SAGE_BENCH_MYSQL_HOST", "127.0.0.1")
MYSQL_DATABASE = os.environ.get("SAGE_BENCH_MYSQL_DATABASE", "test")
BATCH = 10_000
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
    group.add_argument("--databases", default="postgresql,mysql,duckdb", help="postgresql,mysql,duckdb")


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

@dataclass
class Timing:
    database: str
    method: str
    seconds: float
    rows: int
    note: str = ""


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- databases -------------------------------------------------------------------------------

class Bench:
    """One database's runs; subclasses provide the raw floor, executemany and to_sql."""

    kind = ""
    has_peers = True  # executemany and pandas to_sql can drive this database
    max_params = 65_535  # bound parameters per statement (to_sql multi packs a chunk in one)

    def __init__(self, base: Path, upload: Path, rows: int):
        self.base, self.upload, self.rows = base, upload, rows
        self.table = f"bench_ventas_{uuid.uuid4().hex[:6]}"

    def spec(self, strategy: Strategy) -> TableSpec:
        return TableSpec(name=self.table, schema=self.schema, columns=COLUMNS, strategy=strategy,
                         primary_key=("id_venta",))

    def ours(self, strategy: Strategy, path: Path, upload_id: str) -> None:
        self.destination.write(csv_reader(path), self.spec(strategy), upload_id)

    def settle(self) -> None:
        """Bring the server to the same state before every timed step (no-op by default)."""

    def timed_step(self, fn: Callable[[], object]) -> float:
        self.settle()
        return timed(fn)

    def run(self, to_sql_rows: int) -> list[Timing]:
        n = self.rows
        out: list[Timing] = []
        self.ours(Strategy.UPSERT, self.base, "base")
        out.append(Timing(self.kind, "ours: upsert",
                          self.timed_step(lambda: self.ours(Strategy.UPSERT, self.upload, "u1")), n))
        self.ours(Strategy.TRUNCATE_INSERT, self.base, "base")
        out.append(Timing(self.kind, "ours: truncate_insert",
                          self.timed_step(lambda: self.ours(Strategy.TRUNCATE_INSERT, self.upload, "u2")), n))
        rss = peak_rss_mb()
        self.ours(Strategy.TRUNCATE_INSERT, self.base, "base")
        out.append(Timing(self.kind, "floor: bulk load + upsert statement",
                          self.timed_step(lambda: self.floor(upsert=True)), n))
        self.ours(Strategy.TRUNCATE_INSERT, self.base, "base")
        out.append(Timing(self.kind, "floor: bulk load + delete + insert",
                          self.timed_step(lambda: self.floor(upsert=False)), n))
        out.append(Timing(self.kind, "peak RSS after our writes (MB)", rss, 0))
        if not self.has_peers:
            return out
        self.ours(Strategy.TRUNCATE_INSERT, self.base, "base")
        out.insert(-1, Timing(self.kind, "executemany upsert, 10,000/batch", self.timed_step(self.executemany), n))
        subset = min(to_sql_rows, n)
        for method in (None, "multi"):
            chunk = min(BATCH, self.max_params // len(NAMES)) if method else BATCH
            seconds = self.timed_step(lambda: self.to_sql(subset, method, chunk))
            label = f"pandas to_sql{' multi' if method else ''}, {chunk:,}/chunk"
            out.insert(-1, Timing(self.kind, label, seconds * n / subset, n,
                                  note=f"timed on {subset:,} rows ({seconds:.1f} s), extrapolated"))
        return out

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
        self.destination = open_destination(ConnectionSettings(
            kind="postgresql", name="bench", host=url.hostname, port=url.port or 5432,
            user=url.username, database=url.path.lstrip("/")))

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

    def floor(self, upsert: bool) -> None:
        cols = ", ".join(NAMES)
        with self.psycopg.connect(PG_URL) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE stg ON COMMIT DROP AS SELECT {cols} FROM {self.qualified} WITH NO DATA")
            with cur.copy(f"COPY stg ({cols}) FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                    open(self.upload, "rb") as f:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            insert = (f"INSERT INTO {self.qualified} ({cols}, _sage_upload_id, _sage_loaded_at) "
                      f"SELECT {cols}, 'floor', localtimestamp FROM stg")
            if upsert:
                cur.execute(f"{insert} {self.upsert_tail}")
            else:
                cur.execute(f"DELETE FROM {self.qualified}")
                cur.execute(insert)

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
        self.destination = open_destination(ConnectionSettings(
            kind="mysql", name="bench", host=MYSQL_HOST, port=3306, user="root", database=MYSQL_DATABASE))

    def connect(self):
        return self.pymysql.connect(host=MYSQL_HOST, user="root", password="", database=self.schema,
                                    local_infile=True, autocommit=False)

    @property
    def upsert_tail(self) -> str:
        sets = ", ".join(f"{c} = VALUES({c})" for c in NAMES[1:] + ["_sage_upload_id", "_sage_loaded_at"])
        return f"ON DUPLICATE KEY UPDATE {sets}"

    def floor(self, upsert: bool) -> None:
        cols = ", ".join(NAMES)
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE TEMPORARY TABLE stg SELECT {cols} FROM {self.qualified} LIMIT 0")
                cur.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE stg CHARACTER SET utf8mb4 "
                            "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' IGNORE 1 LINES "
                            f"({cols})", (str(self.upload),))
                insert = (f"INSERT INTO {self.qualified} ({cols}, _sage_upload_id, _sage_loaded_at) "
                          f"SELECT {cols}, 'floor', NOW(6) FROM stg")
                if upsert:
                    cur.execute(f"{insert} {self.upsert_tail}")
                else:
                    cur.execute(f"DELETE FROM {self.qualified}")
                    cur.execute(insert)
            conn.commit()
        finally:
            conn.close()

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
        self.destination = open_destination(ConnectionSettings(kind="duckdb", name="bench", database=str(self.path)))

    upsert_tail = PostgresBench.upsert_tail  # DuckDB speaks PostgreSQL's ON CONFLICT

    def floor(self, upsert: bool) -> None:
        import duckdb

        schema = pa.schema([pa.field(c.name, c.type.to_arrow()) for c in COLUMNS])
        upload = pacsv.read_csv(str(self.upload), convert_options=pacsv.ConvertOptions(column_types=schema))
        cols = ", ".join(NAMES)
        con = duckdb.connect(str(self.path))
        try:
            con.register("upload", upload)
            con.execute("BEGIN")
            insert = (f"INSERT INTO {self.qualified} ({cols}, _sage_upload_id, _sage_loaded_at) "
                      f"SELECT {cols}, 'floor', localtimestamp FROM upload")
            if upsert:
                con.execute(f"{insert} {self.upsert_tail}")
            else:
                con.execute(f"DELETE FROM {self.qualified}")
                con.execute(insert)
            con.execute("COMMIT")
        finally:
            con.close()

    def cleanup(self) -> None:
        self.path.unlink(missing_ok=True)


# --- report ----------------------------------------------------------------------------------

def print_table(timings: list[Timing]) -> None:
    floors = {t.database: t.seconds for t in timings if t.method.startswith("floor: bulk load + upsert")}
    trunc_floors = {t.database: t.seconds for t in timings if t.method.startswith("floor: bulk load + delete")}
    header = f"| {'database':<10} | {'method':<36} | {'seconds':>8} | {'rows/s':>10} | {'x floor':>7} | note"
    print(header)
    print("|" + "|".join("-" * (len(p) + 0) for p in header.split("|")[1:]))
    for t in timings:
        if t.rows == 0:
            print(f"| {t.database:<10} | {t.method:<36} | {t.seconds:>8.0f} | {'':>10} | {'':>7} |")
            continue
        floor = trunc_floors if "truncate" in t.method or "delete + insert" in t.method else floors
        ratio = t.seconds / floor[t.database] if floor.get(t.database) else float("nan")
        print(f"| {t.database:<10} | {t.method:<36} | {t.seconds:>8.2f} | {t.rows / t.seconds:>10,.0f} | "
              f"{ratio:>7.2f} | {t.note}")


def run(args: argparse.Namespace) -> None:
    rows = args.rows
    wanted = {d.strip() for d in args.databases.split(",") if d.strip()}
    with tempfile.TemporaryDirectory(prefix="sage_bench_") as tmp:
        base, upload = Path(tmp) / "base" / "ventas.csv", Path(tmp) / "upload" / "ventas.csv"
        base.parent.mkdir()
        upload.parent.mkdir()
        write_ventas_csv(base, 0, rows, variant=0)
        write_ventas_csv(upload, rows // 2, rows, variant=1)  # half the keys overlap the base
        print(f"{rows:,} rows; upload CSV {upload.stat().st_size / 1e6:.0f} MB; "
              f"upsert into a table of {rows:,} rows with {rows - rows // 2:,} keys overlapping; "
              f"ratios: upsert rows vs the upsert floor, truncate rows vs the delete+insert floor",
              flush=True)
        timings: list[Timing] = []
        for cls in (PostgresBench, MySQLBench, DuckDBBench):
            if cls.kind not in wanted and not (cls.kind == "mariadb" and "mysql" in wanted):
                continue
            bench = cls(base, upload, rows)
            try:
                timings += bench.run(args.to_sql_rows)
            finally:
                bench.cleanup()
            print(f"{cls.kind}: done", flush=True)
            if cls.kind == "postgresql":
                timings.append(Timing("postgresql", "sage materialize (Dagster): upsert",
                                      materialize_seconds(PG_URL, SAGE_YAML, base, upload), rows,
                                      note="end to end: upload file to committed table, run included"))
        print_table(timings)
