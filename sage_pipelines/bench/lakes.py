"""Lake upsert benchmark: ours against each format library's own upsert, in the same run.

An N-row upload (half its keys already in the table, half new) is upserted into an N-row table:

- Iceberg: `IcebergDestination.write` (key-pruned file rewrite, one snapshot) versus pyiceberg's
  `Table.upsert(df, join_cols=["id"])` on an identical copy of the table;
- Delta: `DeltaDestination.write` versus a plain `DeltaTable.merge(...).when_matched_update_all()
  .when_not_matched_insert_all()` on an identical copy.

- Iceberg, day-partitioned: a 1% upload touching 3 days of a 365-day table, ours versus
  pyiceberg's `upsert` (FACTS.md measured 105 s for 10,000 rows into 2,000 day files).

Both sides end with the same rows (checked: row count, key sum and updated rows) so the
timings compare equal work. Run `python -m sage_pipelines.bench --only lakes [--rows N]` or
`python -m sage_pipelines.bench.lakes [--rows N]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sage_pipelines.destinations.registry import open_destination
from sage_pipelines.destinations.base import LakeSettings, Partitioning, Strategy, TableSpec, with_sage_columns
from sage_pipelines.types import Column, ColumnType, Kind, arrow_schema

COLUMNS = (
    Column("id", ColumnType(Kind.INTEGER)),
    Column("semana", ColumnType(Kind.INTEGER)),
    Column("codigo", ColumnType(Kind.TEXT)),
    Column("monto", ColumnType(Kind.DECIMAL, 38, 10)),
    Column("fecha", ColumnType(Kind.DATE)),
    Column("activo", ColumnType(Kind.BOOLEAN)),
    Column("cliente", ColumnType(Kind.TEXT)),
    Column("nota", ColumnType(Kind.TEXT)),
)


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--lake-dir", default=None, help="where to build the lake tables (default: a temp dir)")
    group.add_argument("--skip-partitioned", action="store_true",
                       help="skip the small upsert into a day-partitioned Iceberg table")


def generate(first_id: int, rows: int, version: str) -> pa.Table:
    """`rows` rows with ids first_id.. and values that depend on `version` (so updates show)."""
    return rows_for(np.arange(first_id, first_id + rows, dtype=np.int64), version)


def rows_for(ids: np.ndarray, version: str) -> pa.Table:
    """One row per id; `fecha` is one of 365 days chosen by the id, the rest derived from it."""
    rows = len(ids)
    cents = pa.array(ids * 7 % 1_000_000, pa.int64()).cast(pa.decimal128(20, 0))
    days = pa.array((ids % 365).astype(np.int32) + 19_723, pa.int32()).cast(pa.date32())
    text = pc.cast(pa.array(ids), pa.string())
    return pa.Table.from_arrays([
        pa.array(ids), pa.array(ids % 52, pa.int64()),
        pc.binary_join_element_wise(pa.scalar(version), pc.utf8_lpad(text, 10, "0"), ""),
        pc.multiply(cents, pa.scalar(Decimal("0.01"), pa.decimal128(3, 2))).cast(pa.decimal128(38, 10)),
        days, pa.array(ids % 2 == 0), pc.binary_join_element_wise(pa.scalar("cliente "), text, ""),
        pa.nulls(rows, pa.string()),
    ], schema=arrow_schema(COLUMNS))


def reader(table: pa.Table) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=65_536))


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def fingerprint(table: pa.Table) -> tuple[int, int, int]:
    """Rows, sum of keys, rows holding the upload's version: equal on both sides or the run is void."""
    codes = table.column("codigo")
    return (table.num_rows, pc.sum(table.column("id")).as_py(),
            pc.sum(pc.starts_with(codes, "v2").cast(pa.int64())).as_py())


def bench_iceberg(root: Path, base: pa.Table, upload: pa.Table) -> list[tuple]:

    settings = LakeSettings(name="bench", warehouse=(root / "iceberg").as_uri(), format="iceberg")
    dest = open_destination(settings)
    ours = TableSpec(name="ours", schema="bench", columns=COLUMNS, strategy=Strategy.UPSERT, primary_key=("id",))
    theirs = TableSpec(name="pyiceberg", schema="bench", columns=COLUMNS, strategy=Strategy.UPSERT,
                       primary_key=("id",))
    for spec in (ours, theirs):
        dest.write(reader(base), spec, "u1")
    ours_s, result = timed(lambda: dest.write(reader(upload), ours, "u2"))
    table = dest.load(theirs)
    df = with_sage_columns(reader(upload), "u2").read_all()
    theirs_s, theirs_result = timed(lambda: table.upsert(df, join_cols=["id"]))
    same = fingerprint(dest.read(ours)) == fingerprint(dest.read(theirs))
    return [("Iceberg", "IcebergDestination upsert (ours)", ours_s, result.updated, same),
            ("Iceberg", "pyiceberg Table.upsert", theirs_s, theirs_result.rows_updated, same)]


def bench_delta(root: Path, base: pa.Table, upload: pa.Table) -> list[tuple]:
    from deltalake import DeltaTable


    settings = LakeSettings(name="bench", warehouse=(root / "delta").as_uri(), format="delta")
    dest = open_destination(settings)
    ours = TableSpec(name="ours", schema="bench", columns=COLUMNS, strategy=Strategy.UPSERT, primary_key=("id",))
    theirs = TableSpec(name="merge", schema="bench", columns=COLUMNS, strategy=Strategy.UPSERT, primary_key=("id",))
    for spec in (ours, theirs):
        dest.write(reader(base), spec, "u1")
    ours_s, result = timed(lambda: dest.write(reader(upload), ours, "u2"))
    table = DeltaTable(dest.uri(theirs))
    df = with_sage_columns(reader(upload), "u2").read_all()
    theirs_s, metrics = timed(lambda: table.merge(df, "t.id = s.id", source_alias="s", target_alias="t")
                              .when_matched_update_all().when_not_matched_insert_all().execute())
    same = fingerprint(dest.read(ours)) == fingerprint(dest.read(theirs))
    return [("Delta", "DeltaDestination upsert (ours)", ours_s, result.updated, same),
            ("Delta", "DeltaTable.merge (plain)", theirs_s, metrics["num_target_rows_updated"], same)]


def bench_iceberg_partitioned(root: Path, rows: int) -> list[tuple]:
    """A small upsert (1% of the table, 3 days) into a day-partitioned table of 365 files."""

    settings = LakeSettings(name="bench", warehouse=(root / "iceberg_days").as_uri(), format="iceberg")
    dest = open_destination(settings)
    base = generate(0, rows, "v1")
    days = np.array([10, 11, 12])
    size = max(rows // 100, 30)
    existing = np.concatenate([np.arange(d, rows, 365) for d in days])[: size // 2]
    new = np.concatenate([np.arange(rows + d, rows + 365 * size, 365) for d in days])[: size - len(existing)]
    upload = rows_for(np.concatenate([existing, new]).astype(np.int64), "v2")
    specs = [TableSpec(name=name, schema="bench", columns=COLUMNS, strategy=Strategy.UPSERT, primary_key=("id",),
                       partitioning=Partitioning(("fecha",), "day")) for name in ("ours", "pyiceberg")]
    for spec in specs:
        dest.write(reader(base), spec, "u1")
    ours_s, result = timed(lambda: dest.write(reader(upload), specs[0], "u2"))
    table = dest.load(specs[1])
    df = with_sage_columns(reader(upload), "u2").read_all()
    theirs_s, theirs_result = timed(lambda: table.upsert(df, join_cols=["id"]))
    same = fingerprint(dest.read(specs[0])) == fingerprint(dest.read(specs[1]))
    label = f"{upload.num_rows:,} rows into 365 day partitions"
    return [("Iceberg, day-partitioned", f"ours: {label} ({result.extra['files_removed']} files rewritten)",
             ours_s, result.updated, same, upload.num_rows),
            ("Iceberg, day-partitioned", f"pyiceberg Table.upsert: {label}", theirs_s,
             theirs_result.rows_updated, same, upload.num_rows)]


def run(args: argparse.Namespace) -> list[tuple]:
    rows = args.rows
    root = Path(args.lake_dir or tempfile.mkdtemp(prefix="sage_bench_lakes_"))
    root.mkdir(parents=True, exist_ok=True)
    base, upload = generate(0, rows, "v1"), generate(rows // 2, rows, "v2")
    print(f"{rows:,}-row upsert into a {rows:,}-row table ({rows // 2:,} keys overlap), lake at {root}",
          flush=True)
    results = []
    try:
        for bench in (bench_iceberg, bench_delta):
            results += [r + (rows,) for r in bench(root, base, upload)]
        if not args.skip_partitioned:
            results += bench_iceberg_partitioned(root, rows)
    finally:
        if not args.lake_dir:
            shutil.rmtree(root, ignore_errors=True)
    print("\n| format | operation | seconds | rows/s | updated | same result | vs ours |")
    print("|---|---|---:|---:|---:|---|---:|")
    for i, (fmt, name, seconds, updated, same, upload_rows) in enumerate(results):
        ours_seconds = results[i - i % 2][2]
        print(f"| {fmt} | {name} | {seconds:.2f} | {upload_rows / seconds:,.0f} | {updated:,} | "
              f"{'yes' if same else 'NO'} | {seconds / ours_seconds:.1f}x |")
    print(f"\n({dt.datetime.now():%Y-%m-%d %H:%M}; `vs ours` = seconds / our seconds for the same format)")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sage_pipelines.bench.lakes")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the table and in the upload")
    add_arguments(parser.add_argument_group("lakes"))
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
