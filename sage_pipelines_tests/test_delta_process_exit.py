"""A process that reads or writes Delta through `sage` exits 0.

deltalake 1.6.6's `DeltaTable.to_pyarrow_table()` (pyarrow 26) aborts the process at exit about
half the time ("terminate called without an active exception", exit 134): the abort comes when
the interpreter is already gone, after the work succeeded, so only a fresh process per read
shows it. Each test runs its script in 30 fresh processes and requires every exit code to be 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

RUNS = 30

_SETUP = """
    import sys
    from decimal import Decimal

    import pyarrow as pa

    from sage_pipelines.destinations.base import LakeSettings, Strategy, TableSpec
    from sage_pipelines.destinations.delta.destination import DeltaDestination
    from sage_pipelines.types import Column, ColumnType, Kind

    warehouse, seed = sys.argv[1], int(sys.argv[2])
    columns = (Column("id", ColumnType(Kind.INTEGER)), Column("nombre", ColumnType(Kind.TEXT)),
               Column("monto", ColumnType(Kind.DECIMAL, 14, 2)))
    spec = TableSpec(name="ventas", schema="ns", strategy=Strategy.UPSERT, columns=columns, primary_key=("id",))
    destination = DeltaDestination(LakeSettings(name="lake", warehouse=warehouse, format="delta"))

    def upload(first, n):
        schema = pa.schema([("id", pa.int64()), ("nombre", pa.string()), ("monto", pa.decimal128(14, 2))])
        rows = pa.table({"id": list(range(first, first + n)), "nombre": [f"Año {i}" for i in range(n)],
                         "monto": [Decimal(f"{i}.05") for i in range(n)]}, schema=schema)
        return pa.RecordBatchReader.from_batches(schema, rows.to_batches())
"""

READ = _SETUP + """
    table = destination.read(spec)
    assert table.num_rows == 8 * 500, table.num_rows
    print(table.num_rows)
"""

WRITE_AND_READ = _SETUP + """
    destination.write(upload(10_000 + seed * 100, 100), spec, f"u{seed}")
    table = destination.read(spec)
    assert table.num_rows >= 8 * 500 + 100, table.num_rows
    print(table.num_rows)
"""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> str:
    """A Delta table of eight data files (one commit each): many files, many reader threads."""
    root = tmp_path_factory.mktemp("delta_exit") / "lake"
    script = textwrap.dedent(_SETUP) + "\nfor i in range(8):\n    destination.write(upload(i * 500, 500), spec, f'base{i}')\n"
    subprocess.run([sys.executable, "-c", script, root.as_uri(), "0"], check=True, timeout=300)
    return root.as_uri()


def _run_many(script: str, warehouse: str, tmp_path: Path) -> list[tuple[int, str]]:
    """(exit code, stderr tail) of RUNS fresh processes, two at a time (the machine is shared)."""
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    code = textwrap.dedent(script)

    def one(i: int) -> tuple[int, str]:
        done = subprocess.run([sys.executable, "-c", code, warehouse, str(i)], capture_output=True,
                              text=True, env=env, timeout=300, cwd=tmp_path)
        return done.returncode, done.stderr[-600:]

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, range(RUNS)))


def _report(figures, what: str, outcomes: list[tuple[int, str]]) -> None:
    codes = [code for code, _ in outcomes]
    figures(f"{what}: {codes.count(0)}/{len(codes)} processes exited 0; exit codes {sorted(set(codes))}")
    failed = [(code, err) for code, err in outcomes if code != 0]
    assert not failed, f"{len(failed)}/{len(codes)} {what} processes failed; first: exit {failed[0][0]}: {failed[0][1]}"


@pytest.mark.slow
def test_thirty_processes_that_read_a_delta_table_all_exit_0(warehouse, tmp_path, figures):
    _report(figures, "read", _run_many(READ, warehouse, tmp_path))


@pytest.mark.slow
def test_thirty_processes_that_write_then_read_a_delta_table_all_exit_0(warehouse, tmp_path, figures):
    _report(figures, "write + read", _run_many(WRITE_AND_READ, warehouse, tmp_path))
