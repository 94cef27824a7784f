"""One writer of the Hudi race test, in a process of its own (`python -m ...`).

Arguments: warehouse URI, first id, row count, go file. It builds its upload, prints `ready`, waits
until the go file exists, upserts ids [first, first + rows) into `ventas.race` of a lake whose
writers take no file lock (`hudi.lock: none`, as on an object store), and prints one JSON line:
{"ok": true, "inserted": N} or {"ok": false, "error": "<message>"}.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pyarrow as pa

from sage_pipelines.destinations.base import LakeSettings, Strategy, TableSpec
from sage_pipelines.destinations.registry import open_destination
from sage_pipelines.errors import SageError
from sage_pipelines.types import Column, ColumnType, Kind

SPEC = TableSpec(name="race", schema="ventas", strategy=Strategy.UPSERT, primary_key=("id",),
                 columns=(Column("id", ColumnType(Kind.INTEGER), nullable=False), Column("writer", ColumnType(Kind.TEXT))))


def settings(warehouse: str) -> LakeSettings:
    return LakeSettings(name="lake", warehouse=warehouse, format="hudi", options={"hudi.lock": "none"})


def upload(first: int, rows: int, writer: str) -> pa.RecordBatchReader:
    table = pa.table({"id": pa.array(range(first, first + rows), pa.int64()),
                      "writer": pa.array([writer] * rows, pa.string())}, schema=SPEC.arrow_schema)
    return table.to_reader()


def main(warehouse: str, first: int, rows: int, go: Path) -> None:
    destination = open_destination(settings(warehouse))
    batches = upload(first, rows, f"w{first}")
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    try:
        result = destination.write(batches, SPEC, f"upload-{first}")
        print(json.dumps({"ok": True, "inserted": result.inserted}), flush=True)
    except SageError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
