"""Lake upsert benchmark: ours against each format library's own upsert, in the same run.

An N-row upload (half its keys already in the table, half new) is upserted into an N-row table:

- Iceberg: `IcebergDestination.write` (key-pruned file rewrite, one snapshot, rewritten files
  streamed one at a time) versus pyiceberg's `Table.upsert(df, join_cols=["id"])` on an identical
  copy of the table;
- Delta: `DeltaDestination.write` versus a plain `DeltaTable.merge(...).when_matched_update_all()
  .when_not_matched_insert_all()` on an identical copy.
- Iceberg, day-partitioned: a 1% upload touching 3 days of a table of DAYS (2,000) day partitions
  (one file each), ours versus pyiceberg's `upsert` (FACTS.md measured 105 s for 10,000 rows
  into 2,000 day files);
- Hudi, the same day-partitioned table and upload: ours rewrites only the file groups holding
  the upload's keys (files rewritten / total printed; there is no Python Hudi writer to race).

Every timed write (ours and the peer's) runs alone in a spawned process that reads the upload
from a memory-mapped Arrow file, and reports its seconds and its peak RSS (the write's own
memory: imports included, the benchmark's data not). Both sides end with the same rows (checked:
row count, key sum and updated rows) so the timings compare equal work. `run(args)` returns the
figures (`LakeFigure` rows) and prints them. Run `python -m sage_pipelines.bench --only lakes
[--rows N]` or `python -m sage_pipelines.bench.lakes [--rows N]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sage_pipelines.bench.harness import in_child
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
DAYS = 2_000  # day partitions (one file each) of the partitioned table
UPLOAD_FILE = "upload.arrow"


@dataclass
class LakeFigure:
    """One timed write; on our row `ratio` = our seconds / the peer's in the same case (None
    where there is no peer)."""

    format: str
    operation: str
    seconds: float
    rows: int
    updated: int
    same: bool
    rss_mb: float
    ratio: float | None = None
    note: str = ""


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--lake-dir", default=None, help="where to build the lake tables (default: a temp dir)")
    group.add_argument("--skip-partitioned", action="store_true",
                       help="skip the small upserts into day-partitioned Iceberg and Hudi tables")


def generate(first_id: int, rows: int, version: str, days: int = 365) -> pa.Table:
    """`rows` rows with ids first_id.. and values that depend on `version` (so updates show)."""
    return rows_for(np.arange(first_id, first_id + rows, dtype=np.int64), version, days)


def rows_for(ids: np.ndarray, version: str, days: int = 365) -> pa.Table:
    """One row per id; `fecha` is one of `days` days chosen by the id, the rest derived from it."""
    rows = len(ids)
    cents = pa.array(ids * 7 % 1_000_000, pa.int64()).cast(pa.decimal128(20, 0))
    fechas = pa.array((ids % days).astype(np.int32) + 17_000, pa.int32()).cast(pa.date32())
    text = pc.cast(pa.array(ids), pa.string())
    return pa.Table.from_arrays([
        pa.array(ids), pa.array(ids % 52, pa.int64()),
        pc.binary_join_element_wise(pa.scalar(version), pc.utf8_lpad(text, 10, "0"), ""),
        pc.multiply(cents, pa.scalar(Decimal("0.01"), pa.decimal128(3, 2))).cast(pa.decimal128(38, 10)),
        fechas, pa.array(ids % 2 == 0), pc.binary_join_element_wise(pa.scalar("cliente "), text, ""),
        pa.nulls(rows, pa.string()),
    ], schema=arrow_schema(COLUMNS))


def reader(table: pa.Table) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=65_536))


def fingerprint(table: pa.Table) -> tuple[int, int, int]:
    """Rows, sum of keys, rows holding the upload's version: equal on both sides or the run is void."""
    codes = table.column("codigo")
    return (table.num_rows, pc.sum(table.column("id")).as_py(),
            pc.sum(pc.starts_with(codes, "v2").cast(pa.int64())).as_py())


# --- timed writes, each in a process of its own ------------------------------------------------

def spool(table: pa.Table, path: Path) -> Path:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=65_536):
            writer.write_batch(batch)
    return path


def _mapped(path: str) -> pa.Table:
    return pa.ipc.open_file(pa.memory_map(path, "r")).read_all()


def ours_write(settings: LakeSettings, spec: TableSpec, upload: str) -> Callable[[], tuple[int, int]]:
    """Our upsert, from the mapped upload file: the rows it updated and the files it rewrote."""
    destination = open_destination(settings)

    def step() -> tuple[int, int]:
        result = destination.write(reader(_mapped(upload)), spec, "u2")
        removed = result.extra.get("files_removed", 0)  # Hudi lists the paths, the others count
        return result.updated, len(removed) if isinstance(removed, list) else int(removed)
    return step


def pyiceberg_upsert(settings: LakeSettings, spec: TableSpec, upload: str) -> Callable[[], tuple[int, int]]:
    destination = open_destination(settings)

    def step() -> tuple[int, int]:
        table = destination.load(spec)
        df = with_sage_columns(reader(_mapped(upload)), "u2").read_all()
        return table.upsert(df, join_cols=["id"]).rows_updated, 0
    return step


def delta_merge(settings: LakeSettings, spec: TableSpec, upload: str) -> Callable[[], tuple[int, int]]:
    from deltalake import DeltaTable

    uri = open_destination(settings).uri(spec)

    def step() -> tuple[int, int]:
        table = DeltaTable(uri)
        df = with_sage_columns(reader(_mapped(upload)), "u2").read_all()
        metrics = (table.merge(df, "t.id = s.id", source_alias="s", target_alias="t")
                   .when_matched_update_all().when_not_matched_insert_all().execute())
        return metrics["num_target_rows_updated"], 0
    return step


# --- cases -------------------------------------------------------------------------------------

def race(fmt: str, settings: LakeSettings, base: pa.Table, upload: Path, rows: int,
         peer: tuple[str, Callable[..., Callable[[], tuple[int, int]]]] | None, partitioning: Partitioning | None = None,
         label: str = "") -> list[LakeFigure]:
    """Ours and the peer upsert the same upload into identical copies of `base`."""
    dest = open_destination(settings)
    names = ["ours"] + (["peer"] if peer else [])
    specs = {name: TableSpec(name=name, schema="bench", columns=COLUMNS, strategy=Strategy.UPSERT,
                             primary_key=("id",), partitioning=partitioning) for name in names}
    for spec in specs.values():
        dest.write(reader(base), spec, "u1")
    files_before = count_files(fmt, dest, specs["ours"])
    ours = in_child(ours_write, settings, specs["ours"], str(upload))
    seconds, (updated, rewritten), rss = ours.seconds, ours.result, ours.peak_rss_mb
    note = f"{rewritten:,} of {files_before:,} files rewritten" if files_before else ""
    figures = [LakeFigure(fmt, f"ours: upsert{label}", seconds, rows, updated, True, rss, note=note)]
    if peer:
        name, fn = peer
        other = in_child(fn, settings, specs["peer"], str(upload))
        peer_seconds, (peer_updated, _), peer_rss = other.seconds, other.result, other.peak_rss_mb
        same = fingerprint(dest.read(specs["ours"])) == fingerprint(dest.read(specs["peer"]))
        figures[0].same, figures[0].ratio = same, seconds / peer_seconds
        figures.append(LakeFigure(fmt, f"{name}{label}", peer_seconds, rows, peer_updated, same, peer_rss,
                                  note=f"{peer_seconds / seconds:.1f}x our time"))
    return figures


def count_files(fmt: str, dest: Any, spec: TableSpec) -> int:
    """Data files (Hudi: file groups) of the table's current version."""
    if fmt.startswith("Iceberg"):
        return len(list(dest.load(spec).scan().plan_files()))
    if fmt.startswith("Delta"):
        return len(dest.load(spec).file_uris())
    from hudi import HudiTableBuilder

    return len(HudiTableBuilder.from_base_uri(dest.uri(spec)).build().get_file_slices())


def partitioned_case(rows: int) -> tuple[pa.Table, pa.Table]:
    """A table of `rows` rows over DAYS days and a 1% upload (half updates) touching 3 days."""
    base = generate(0, rows, "v1", DAYS)
    days = np.array([10, 11, 12])
    size = max(rows // 100, 30)
    existing = np.concatenate([np.arange(d, rows, DAYS) for d in days])[: size // 2]
    new = np.concatenate([np.arange(rows + d, rows + DAYS * size, DAYS) for d in days])[: size - len(existing)]
    return base, rows_for(np.concatenate([existing, new]).astype(np.int64), "v2", DAYS)


def run(args: argparse.Namespace) -> list[LakeFigure]:
    """The lake figures of one run (also printed): ours / peer and each write's peak RSS."""
    rows = args.rows
    root = Path(args.lake_dir or tempfile.mkdtemp(prefix="sage_bench_lakes_"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"{rows:,}-row upsert into a {rows:,}-row table ({rows // 2:,} keys overlap), lake at {root}",
          flush=True)
    figures: list[LakeFigure] = []
    try:
        base, upload = generate(0, rows, "v1"), generate(rows // 2, rows, "v2")
        path = spool(upload, root / UPLOAD_FILE)
        for fmt, peer in (("iceberg", ("pyiceberg Table.upsert", pyiceberg_upsert)),
                          ("delta", ("DeltaTable.merge (plain)", delta_merge))):
            settings = LakeSettings(name="bench", warehouse=(root / fmt).as_uri(), format=fmt)
            figures += race(fmt.capitalize(), settings, base, path, rows, peer)
        if not args.skip_partitioned:
            base, upload = partitioned_case(rows)
            path = spool(upload, root / f"days_{UPLOAD_FILE}")
            label = f": {upload.num_rows:,} rows into {DAYS:,} day partitions"
            days = Partitioning(("fecha",), "day")
            for fmt, peer in (("iceberg", ("pyiceberg Table.upsert", pyiceberg_upsert)), ("hudi", None)):
                settings = LakeSettings(name="bench", warehouse=(root / f"{fmt}_days").as_uri(), format=fmt)
                figures += race(f"{fmt.capitalize()}, day-partitioned", settings, base, path,
                                upload.num_rows, peer, days, label)
    finally:
        if not args.lake_dir:
            shutil.rmtree(root, ignore_errors=True)
    print_figures(figures)
    return figures


def print_figures(figures: list[LakeFigure]) -> None:
    print("\n| format | operation | seconds | rows/s | updated | same result | ours / peer | peak RSS MB | note |")
    print("|---|---|---:|---:|---:|---|---:|---:|---|")
    for f in figures:
        ratio = f"{f.ratio:.3f}" if f.ratio is not None else ""
        print(f"| {f.format} | {f.operation} | {f.seconds:.2f} | {f.rows / f.seconds:,.0f} | {f.updated:,} | "
              f"{'yes' if f.same else 'NO'} | {ratio} | {f.rss_mb:,.0f} | {f.note} |")
    print(f"\n({dt.datetime.now():%Y-%m-%d %H:%M}; `ours / peer` = our seconds / the peer's for the same case "
          "(Iceberg target <= 0.05, Delta <= 1.2); peak RSS of the process that did the write)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sage_pipelines.bench.lakes")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the table and in the upload")
    add_arguments(parser.add_argument_group("lakes"))
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
