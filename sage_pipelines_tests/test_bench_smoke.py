"""`make bench` cannot rot: its harness runs at a tiny scale in the tests (no timings judged).

Every benchmark runs each step in a child process (`bench.harness`: `run_child` for the scale and
peers steps, `in_child` for the SQL and lake writes) that reports its own time and peak RSS; the
scale benchmark runs here on DuckDB with a few hundred rows, through the entry point `make bench`
uses.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sage_pipelines.bench.__main__ import main
from sage_pipelines.bench.harness import ChildFailed, in_child, run_child


def _one_row_csv(folder: Path) -> Path:
    upload = folder / "ventas.csv"
    upload.write_text("id_venta,semana,fecha,cliente,producto,cantidad,precio,total,canal\n"
                      "1,2,2024-01-01,CLI-1,PROD-1,3,1.50,4.50,web\n")
    return upload


def test_a_bench_step_runs_in_a_child_that_reports_its_rows_time_and_peak_memory(tmp_path):
    run = run_child("sage_pipelines.bench.scale", "read", upload=str(_one_row_csv(tmp_path)))
    assert run.result["rows"] == 1
    assert 0 < run.seconds < run.wall_seconds
    assert 20 < run.peak_rss_mb < 1024  # a Python with pyarrow loaded, far from the 1 GB limit


def test_a_childs_peak_rss_is_its_own_not_that_of_the_larger_parent(tmp_path):
    ballast = b"x" * (700 << 20)  # resident in this process while the child runs
    run = run_child("sage_pipelines.bench.scale", "read", upload=str(_one_row_csv(tmp_path)))
    assert len(ballast) and run.peak_rss_mb < 600


def allocate(megabytes: int):
    """An `in_child` setup (module-level, so a spawned process can import it)."""
    def step() -> int:
        block = bytearray(megabytes << 20)  # zero-filled: every page touched
        return len(block) >> 20
    return step


def test_an_in_child_step_returns_its_result_time_and_its_own_peak_memory():
    run = in_child(allocate, 200)
    assert run.result == 200
    assert 0 < run.seconds < run.wall_seconds
    assert 200 < run.peak_rss_mb < 600  # the block plus an interpreter


def test_an_in_child_steps_peak_rss_is_its_own_not_that_of_the_larger_parent():
    ballast = b"x" * (700 << 20)  # resident in this process while the child runs
    run = in_child(allocate, 1)
    assert len(ballast) and run.peak_rss_mb < 300


def test_an_in_child_step_that_fails_raises_child_failed():
    with pytest.raises(ChildFailed, match="allocate failed in its child process"):
        in_child(allocate, -1)  # bytearray(-1 MB) raises in the child


def test_the_scale_benchmark_prints_every_step_with_its_peak_rss_at_a_tiny_scale(capsys):
    assert main(["--only", "scale", "--rows", "300", "--scale-factor", "2", "--scale-kinds", "duckdb"]) == 0
    out = capsys.readouterr().out
    assert "FAILED" not in out
    steps = re.findall(r"^\| (casilla reader|duckdb) +\| +([\d,]+) \| (.+?) +\|.*\| +(\d[\d,]*) \|$", out, re.M)
    assert {(target, rows, step) for target, rows, step, _rss in steps} == {
        (target, rows, step) for rows in ("300", "600")
        for target, step in [("casilla reader", "read CSV"), ("casilla reader", "read ZIP"),
                             ("duckdb", "CSV upsert into empty"), ("duckdb", "ZIP upsert, all keys")]}
