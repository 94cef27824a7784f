"""Ours against peer loaders in the same run: dlt's merge (PostgreSQL, DuckDB) and pandas `to_sql`.

The same scenario as the SQL benchmark: a table holding N ventas rows gets an N-row upload, half
its keys new. Ours is the destination's upsert from the CSV (casilla reader included); dlt gets
the upload already typed by pyarrow's own CSV reader (no exactness checks: the peer's best case)
and runs its `write_disposition="merge"` on `primary_key="id_venta"`; pandas `to_sql` appends a
DataFrame made in advance (it has no upsert), timed on --to-sql-rows rows and extrapolated.
Each side runs in a child process (its peak RSS is its own); ours is the median of 3 runs.
dlt comes from the bench-only extra (`pip install -e '.[bench]'`, which `make bench` does).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.csv as pacsv

from sage_pipelines.bench.harness import ChildFailed, ChildRun, child_main, median_of, run_child, timed
from sage_pipelines.bench.sql import COLUMNS, PG_URL, csv_reader, write_ventas_csv
from sage_pipelines.destinations.base import ConnectionSettings, Strategy, TableSpec
from sage_pipelines.destinations.registry import open_destination
from sage_pipelines.types import arrow_schema

TARGET_DLT_PG = 2.0  # our PostgreSQL upsert must be at least this many times faster than dlt's merge


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--peer-runs", type=int, default=3, help="runs of ours (the median is printed)")


# --- child steps -----------------------------------------------------------------------------

def _settings(kind: str, root: str) -> ConnectionSettings:
    if kind == "duckdb":
        return ConnectionSettings(kind="duckdb", name="bench", database=str(Path(root) / "ours.duckdb"))
    url = urlparse(PG_URL)
    return ConnectionSettings(kind="postgresql", name="bench", host=url.hostname, port=url.port or 5432,
                              user=url.username, database=url.path.lstrip("/"))


def ours_step(kind: str, root: str, schema: str, base: str, upload: str) -> dict:
    destination = open_destination(_settings(kind, root))
    spec = TableSpec(name="ventas", schema=schema if kind == "postgresql" else "main", columns=COLUMNS,
                     strategy=Strategy.UPSERT, primary_key=("id_venta",))
    destination.write(csv_reader(Path(base)), spec, "base")
    _settle(kind, schema)
    result = {}

    def upsert() -> None:
        result["rows"] = destination.write(csv_reader(Path(upload)), spec, "upload").rows

    return {"seconds": timed(upsert), **result}


def _settle(kind: str, schema: str) -> None:
    """Both sides start their timed upsert from a vacuumed table and a finished checkpoint
    (as the SQL benchmark's steps do), so neither pays for the base load's dead rows or dirty pages."""
    if kind != "postgresql":
        return
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'VACUUM ANALYZE "{schema}"."ventas"')  # generated name
        conn.execute("CHECKPOINT")


def _typed(path: str) -> pa.Table:
    schema = arrow_schema(COLUMNS)
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=schema))


def dlt_step(kind: str, root: str, schema: str, base: str, upload: str) -> dict:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt

    if kind == "duckdb":
        destination = dlt.destinations.duckdb(str(Path(root) / "dlt.duckdb"))
    else:
        url = urlparse(PG_URL)
        # dlt insists on a password; a trust-authenticated server (this machine's) ignores it.
        netloc = url.netloc if url.password else url.netloc.replace("@", ":unused@", 1)
        destination = dlt.destinations.postgres(url._replace(netloc=netloc).geturl())
    pipeline = dlt.pipeline(pipeline_name=f"bench_{schema}", destination=destination, dataset_name=schema,
                            pipelines_dir=str(Path(root) / "dlt_pipelines"))

    def merge(path: str) -> None:
        pipeline.run(_typed(path), table_name="ventas", write_disposition="merge", primary_key="id_venta")

    merge(base)
    _settle(kind, schema)
    return {"seconds": timed(lambda: merge(upload))}


def to_sql_step(schema: str, upload: str, rows: int) -> dict:
    import sqlalchemy

    frame = _typed(upload).slice(0, rows).to_pandas()
    engine = sqlalchemy.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')  # generated name
    seconds = timed(lambda: frame.to_sql("ventas_to_sql", engine, schema=schema, if_exists="append", index=False,
                                         chunksize=10_000))
    engine.dispose()
    return {"seconds": seconds, "rows": len(frame)}


STEPS = {"ours": ours_step, "dlt": dlt_step, "to_sql": to_sql_step}


# --- parent ----------------------------------------------------------------------------------

def _drop_schemas(*schemas: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # generated names
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_staging" CASCADE')  # dlt's staging dataset


def _try(make) -> ChildRun | str:
    try:
        return make()
    except ChildFailed as exc:
        return str(exc).strip().splitlines()[-1][:200]


def run(args: argparse.Namespace) -> list[tuple]:
    rows = args.rows
    subset = min(getattr(args, "to_sql_rows", 50_000), rows)
    lines: list[tuple] = []
    with tempfile.TemporaryDirectory(prefix="sage_bench_peers_") as tmp:
        base, upload = Path(tmp) / "base" / "ventas.csv", Path(tmp) / "upload" / "ventas.csv"
        base.parent.mkdir()
        upload.parent.mkdir()
        write_ventas_csv(base, 0, rows, variant=0)
        write_ventas_csv(upload, rows // 2, rows, variant=1)
        print(f"{rows:,}-row upsert into {rows:,} rows ({rows - rows // 2:,} keys overlap)", flush=True)
        for kind in ("postgresql", "duckdb"):
            schemas: list[str] = []

            def fresh(side: str) -> dict:
                schemas.append(f"sage_bench_{side}_{uuid.uuid4().hex[:6]}")
                root = Path(tmp) / schemas[-1]
                root.mkdir()
                return dict(kind=kind, root=str(root), schema=schemas[-1], base=str(base), upload=str(upload))

            try:
                ours = _try(lambda: median_of(args.peer_runs, lambda: run_child(__name__, "ours", **fresh("ours"))))
                peer = _try(lambda: run_child(__name__, "dlt", **fresh("dlt")))
                lines.append((kind, "ours: upsert (median of runs)", ours, rows))
                lines.append((kind, "dlt merge (arrow from pyarrow's CSV reader)", peer, rows))
                if kind == "postgresql":
                    schemas.append(f"sage_bench_to_sql_{uuid.uuid4().hex[:6]}")
                    to_sql = _try(lambda: run_child(__name__, "to_sql", schema=schemas[-1], upload=str(upload),
                                                    rows=subset))
                    if isinstance(to_sql, ChildRun):
                        to_sql.seconds *= rows / subset
                    lines.append((kind, f"pandas to_sql, 10,000/chunk (timed on {subset:,} rows, extrapolated)",
                                  to_sql, rows))
            finally:
                if kind == "postgresql":
                    _drop_schemas(*schemas)
                for schema in schemas:
                    shutil.rmtree(Path(tmp) / schema, ignore_errors=True)
            print(f"  {kind}: done", flush=True)
    print_table(lines)
    return lines


def print_table(lines: list[tuple]) -> None:
    ours = {kind: run for kind, method, run, _ in lines if method.startswith("ours") and isinstance(run, ChildRun)}
    print(f"\n| {'database':<10} | {'method':<62} | {'seconds':>8} | {'rows/s':>9} | {'ours/peer':>9} | "
          f"{'peak RSS MB':>11} |")
    print(f"|{'-' * 12}|{'-' * 64}|{'-' * 9}:|{'-' * 10}:|{'-' * 10}:|{'-' * 12}:|")
    for kind, method, run, rows in lines:
        if not isinstance(run, ChildRun):
            print(f"| {kind:<10} | {method:<62} | FAILED: {run}")
            continue
        mine = ours.get(kind)
        ratio = f"{mine.seconds / run.seconds:.2f}" if mine and mine is not run else ""
        print(f"| {kind:<10} | {method:<62} | {run.seconds:>8.2f} | {rows / run.seconds:>9,.0f} | {ratio:>9} | "
              f"{run.peak_rss_mb:>11,.0f} |")
    pg_ours, pg_dlt = ours.get("postgresql"), next((r for k, m, r, _ in lines if k == "postgresql"
                                                    and m.startswith("dlt") and isinstance(r, ChildRun)), None)
    if pg_ours and pg_dlt:
        speedup = pg_dlt.seconds / pg_ours.seconds
        verdict = "met" if speedup >= TARGET_DLT_PG else "NOT met"
        print(f"\nPostgreSQL: ours is {speedup:.2f}x faster than dlt's merge (target >= {TARGET_DLT_PG:.0f}x: {verdict})")


if __name__ == "__main__":
    raise SystemExit(child_main(STEPS))
