"""Two processes that write one Hudi table at once, with no lock between them (as two servers on an
object store): the commit that finds a newer completed instant it did not see is undone and
fails with one line saying to re-run it; the table holds exactly the other write."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from sage_pipelines.destinations.hudi.table import AUX, HOODIE
from sage_pipelines.destinations.registry import open_destination
from sage_pipelines_tests.hudi_race_writer import SPEC, settings, upload

BIG, SMALL = 1_000_000, 10  # the big write is still writing files when the small one commits


def start_writer(warehouse: str, first: int, rows: int, go: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "sage_pipelines_tests.hudi_race_writer", warehouse,
                                str(first), str(rows), str(go)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    return process


def outcome(process: subprocess.Popen) -> dict:
    out, _ = process.communicate(timeout=300)
    return json.loads(out.strip().splitlines()[-1])


def instants(table_dir: Path) -> list[str]:
    return sorted(p.name for p in (table_dir / HOODIE).iterdir() if p.is_file())


def test_two_processes_racing_on_one_table_commit_one_write_and_undo_the_other(tmp_path):
    warehouse = (tmp_path / "lake").as_uri()
    table_dir = tmp_path / "lake" / "ventas" / "race"
    destination = open_destination(settings(warehouse))
    destination.write(upload(0, 100, "first"), SPEC, "upload-first")  # a small file group both rewrite
    before = instants(table_dir)

    big, small = start_writer(warehouse, 1_000, BIG, tmp_path / "go-big"), \
        start_writer(warehouse, 5_000_000, SMALL, tmp_path / "go-small")
    (tmp_path / "go-big").touch()
    deadline = time.monotonic() + 120
    while not any(n.endswith(".requested") for n in set(instants(table_dir)) - set(before)):
        assert time.monotonic() < deadline, "the big write never began its commit"
        time.sleep(0.005)
    (tmp_path / "go-small").touch()  # the small write starts while the big one writes its files
    results = {"big": outcome(big), "small": outcome(small)}

    won = [name for name, r in results.items() if r["ok"]]
    lost = [name for name, r in results.items() if not r["ok"]]
    assert len(won) == 1 and len(lost) == 1, results
    message = results[lost[0]]["error"]
    assert "\n" not in message
    assert "another writer committed to this table while this write ran" in message
    assert message.endswith("re-run it")

    rows = destination.read(SPEC)
    first, count = (1_000, BIG) if won == ["big"] else (5_000_000, SMALL)
    assert rows.num_rows == 100 + count
    ids = set(rows.column("id").to_pylist())
    assert ids == set(range(100)) | set(range(first, first + count))  # the loser left no row
    assert set(rows.column("writer").to_pylist()) == {"first", f"w{first}"}

    after = instants(table_dir)
    completed = {n.split(".")[0] for n in after if n.endswith(".commit")}
    assert len(completed) == 2, after  # the first write and the winner
    assert {n.split(".")[0] for n in after if n != "hoodie.properties"} == completed, after  # the loser's instants are gone
    assert {p.stem.rsplit("_", 1)[1] for p in table_dir.rglob("*.parquet")} <= completed  # and its files
    assert not list((table_dir / AUX).glob("*.tmp"))
