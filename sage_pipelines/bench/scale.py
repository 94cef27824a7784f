"""Large uploads into every destination: peak memory bounded, time linear in rows.

For N = --rows and N x --scale-factor (1M and 10M by default: a 10M-row ventas CSV is about
800 MB), each destination, in a child process of its own (`harness`), upserts:
- the CSV into an empty table (every row inserted), then
- the same keys with changed values from a ZIP package holding the CSV (every row updated: lake
  formats rewrite every data file).
The casilla reader alone (CSV and ZIP, no destination) is measured the same way. Each line
prints the child's peak RSS (target < 1 GB) and, for the larger N, time per row against the
smaller N (target: within 10%).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from sage_pipelines.bench.harness import ChildFailed, ChildRun, child_main, run_child, timed
from sage_pipelines.bench.sql import COLUMNS, MYSQL_DATABASE, MYSQL_HOST, PG_URL, csv_reader, write_ventas_csv
from sage_pipelines.destinations.base import ConnectionSettings, LakeSettings, Strategy, TableSpec
from sage_pipelines.destinations.registry import open_destination

KINDS = ("postgresql", "mysql", "duckdb", "iceberg", "delta", "hudi")
LAKES = ("iceberg", "delta", "hudi")
RSS_LIMIT_MB = 1024
LINEAR_LIMIT = 1.10


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--scale-factor", type=int, default=10, help="the large upload is --rows times this")
    group.add_argument("--scale-kinds", default=",".join(KINDS), help="destinations of the scale run")


# --- child steps -----------------------------------------------------------------------------

def _destination(kind: str, root: str, schema: str):
    if kind in LAKES:
        return open_destination(LakeSettings(name="bench", warehouse=(Path(root) / kind).as_uri(), format=kind)), "bench"
    if kind == "duckdb":
        return open_destination(ConnectionSettings(kind="duckdb", name="bench",
                                                   database=str(Path(root) / "bench.duckdb"))), "main"
    if kind == "postgresql":
        url = urlparse(PG_URL)
        return open_destination(ConnectionSettings(kind="postgresql", name="bench", host=url.hostname,
                                                   port=url.port or 5432, user=url.username,
                                                   database=url.path.lstrip("/"))), schema
    return open_destination(ConnectionSettings(kind="mysql", name="bench", host=MYSQL_HOST, port=3306, user="root",
                                               database=MYSQL_DATABASE)), schema


def write_step(kind: str, root: str, schema: str, table: str, upload: str, upload_id: str) -> dict:
    """Upsert the upload at `upload` (a CSV or a ZIP package) into `table`; time the write."""
    destination, schema = _destination(kind, root, schema)
    spec = TableSpec(name=table, schema=schema, columns=COLUMNS, strategy=Strategy.UPSERT,
                     primary_key=("id_venta",))
    result = None

    def write() -> None:
        nonlocal result
        result = destination.write(csv_reader(Path(upload)), spec, upload_id)

    seconds = timed(write)
    return {"seconds": seconds, "inserted": result.inserted, "updated": result.updated}


def read_step(upload: str) -> dict:
    """Only the casilla reader: every batch of the upload read and dropped."""
    rows = 0

    def read() -> None:
        nonlocal rows
        for batch in csv_reader(Path(upload)):
            rows += batch.num_rows

    return {"seconds": timed(read), "rows": rows}


STEPS = {"write": write_step, "read": read_step}


# --- parent ----------------------------------------------------------------------------------

@dataclass
class Line:
    target: str
    rows: int
    step: str
    run: ChildRun | None
    error: str = ""


def _uploads(folder: Path, rows: int) -> tuple[Path, Path]:
    """A CSV of `rows` rows and a ZIP package of the same keys with other values."""
    csv_path = folder / "csv" / "ventas.csv"
    changed = folder / "changed" / "ventas.csv"
    package = folder / "upload.zip"
    for path in (csv_path, changed):
        path.parent.mkdir(parents=True)
    write_ventas_csv(csv_path, 0, rows, variant=0)
    write_ventas_csv(changed, 0, rows, variant=1)
    with zipfile.ZipFile(package, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.write(changed, "ventas.csv")
    changed.unlink()
    return csv_path, package


def _drop(kind: str, schema: str) -> None:
    if kind == "postgresql":
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # generated name
    elif kind == "mysql":
        import pymysql

        conn = pymysql.connect(host=MYSQL_HOST, user="root", password="", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{schema}`")  # generated name
        finally:
            conn.close()


def _measure(target: str, rows: int, step: str, module: str, name: str, **kwargs) -> Line:
    try:
        return Line(target, rows, step, run_child(module, name, **kwargs))
    except ChildFailed as exc:
        return Line(target, rows, step, None, str(exc).splitlines()[-1][:160])


def measure_size(rows: int, kinds: list[str], tmp: Path) -> list[Line]:
    folder = tmp / f"rows_{rows}"
    csv_path, package = _uploads(folder, rows)
    size_mb = csv_path.stat().st_size / 1e6
    print(f"{rows:,} rows: CSV {size_mb:,.0f} MB, ZIP {package.stat().st_size / 1e6:,.0f} MB", flush=True)
    lines = [_measure("casilla reader", rows, "read CSV", __name__, "read", upload=str(csv_path)),
             _measure("casilla reader", rows, "read ZIP", __name__, "read", upload=str(package))]
    for kind in kinds:
        schema = f"sage_bench_scale_{uuid.uuid4().hex[:6]}"
        root = folder / kind
        root.mkdir()
        common = dict(kind=kind, root=str(root), schema=schema, table="ventas")
        try:
            lines.append(_measure(kind, rows, "CSV upsert into empty", __name__, "write",
                                  upload=str(csv_path), upload_id="u1", **common))
            lines.append(_measure(kind, rows, "ZIP upsert, all keys", __name__, "write",
                                  upload=str(package), upload_id="u2", **common))
        finally:
            _drop(kind, schema)
            shutil.rmtree(root, ignore_errors=True)
        print(f"  {kind}: done", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    return lines


def print_table(lines: list[Line], small: int) -> None:
    per_row = {(l.target, l.step): l.run.seconds / l.rows for l in lines if l.rows == small and l.run}
    print(f"| {'target':<14} | {'rows':>11} | {'step':<22} | {'seconds':>8} | {'rows/s':>10} | "
          f"{'per row vs small':>16} | {'peak RSS MB':>11} |")
    print(f"|{'-' * 16}|{'-' * 13}:|{'-' * 24}|{'-' * 9}:|{'-' * 11}:|{'-' * 17}:|{'-' * 12}:|")
    for l in lines:
        if l.run is None:
            print(f"| {l.target:<14} | {l.rows:>11,} | {l.step:<22} | FAILED: {l.error}")
            continue
        base = per_row.get((l.target, l.step))
        linear = "" if l.rows == small or not base else f"{l.run.seconds / l.rows / base:.2f}"
        flag = "" if not linear else (" ok" if float(linear) <= LINEAR_LIMIT else " SLOWER")
        rss = f"{l.run.peak_rss_mb:,.0f}{'' if l.run.peak_rss_mb < RSS_LIMIT_MB else ' OVER'}"
        print(f"| {l.target:<14} | {l.rows:>11,} | {l.step:<22} | {l.run.seconds:>8.2f} | "
              f"{l.rows / l.run.seconds:>10,.0f} | {linear + flag:>16} | {rss:>11} |")


def run(args: argparse.Namespace) -> list[Line]:
    kinds = [k.strip() for k in args.scale_kinds.split(",") if k.strip()]
    sizes = [args.rows, args.rows * args.scale_factor]
    lines: list[Line] = []
    with tempfile.TemporaryDirectory(prefix="sage_bench_scale_") as tmp:
        for rows in sizes:
            lines += measure_size(rows, kinds, Path(tmp))
    print(f"\nPeak RSS is each child process's own (target < {RSS_LIMIT_MB} MB); `per row vs small` is "
          f"seconds per row at {sizes[1]:,} over {sizes[0]:,} rows (target <= {LINEAR_LIMIT:.2f}).")
    print_table(lines, sizes[0])
    return lines


if __name__ == "__main__":
    raise SystemExit(child_main(STEPS))
