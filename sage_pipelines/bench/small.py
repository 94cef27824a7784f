"""Small uploads end to end: a 100 KB upload from landing to a committed PostgreSQL table.

Three ways, each the median of --small-runs, on the same machine in the same run:
- trivial Dagster: `dagster asset materialize` of a one-line asset (the yardstick: a process
  start, Dagster's imports and a run on a fresh instance);
- `sage materialize --in-process`: the upload landed (`add_upload`) and the CLI run in a new
  process that executes the run itself (plain `sage materialize` queues it to the daemon, whose
  queue and launch the sensor path below times; the daemon is stopped by then);
- the sensor: a real `dagster-daemon run` on the SAGE_HOME; from the moment the upload starts
  landing to the end of the run the landing sensor requested (read from the run's record), split
  into the wait for the sensor's tick, the run queue and launch, and the run itself.
The target is at most 1.5x the trivial run.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from sage_pipelines.bench.e2e import drop_schema, new_upload, prepare_home
from sage_pipelines.bench.sql import PG_URL, SAGE_YAML, write_ventas_csv
from sage_pipelines.servers.instance import ensure_dagster_home
from sage_pipelines.settings import SageHome

SMALL_ROWS = 1_300  # about 100 KB of ventas CSV
TARGET = 1.5
TRIVIAL_ASSET = "from dagster import asset\n\n\n@asset\ndef trivial() -> int:\n    return 1\n"
RUN_TIMEOUT = 300.0


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--small-runs", type=int, default=3, help="runs of each small-upload path (median)")


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _run(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed:\n{(done.stderr or done.stdout)[-2000:]}")
    return seconds


def trivial_seconds(tmp: Path) -> float:
    """`dagster asset materialize` of a trivial asset on a fresh instance, process included."""
    folder = tmp / "trivial"
    (folder / "home").mkdir(parents=True, exist_ok=True)
    (folder / "trivial_assets.py").write_text(TRIVIAL_ASSET)
    env = {**os.environ, "DAGSTER_HOME": str(folder / "home")}
    return _run([_bin("dagster"), "asset", "materialize", "-f", str(folder / "trivial_assets.py"),
                 "--select", "trivial"], env)


def _small_csv(tmp: Path, n: int) -> Path:
    path = tmp / f"small_{n}" / "ventas.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_ventas_csv(path, n * SMALL_ROWS // 2, SMALL_ROWS, variant=n)
    return path


def _wait_for_run(instance: DagsterInstance, upload_id: str):
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        records = instance.get_run_records(filters=RunsFilter(tags={"sage/upload_id": upload_id}))
        if records and all(r.dagster_run.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE,
                                                   DagsterRunStatus.CANCELED) for r in records):
            failed = [r for r in records if r.dagster_run.status != DagsterRunStatus.SUCCESS]
            if failed:
                raise RuntimeError(f"the sensor's run for upload {upload_id} ended {failed[0].dagster_run.status}")
            return records
        time.sleep(0.1)
    raise RuntimeError(f"no finished run for upload {upload_id} after {RUN_TIMEOUT:.0f} s")


def sensor_latencies(home_root: Path, tmp: Path, env: dict[str, str], runs: int) -> list[dict[str, float]]:
    """Latencies through a real daemon: a warm-up upload first (creates the table), then `runs`."""
    daemon = subprocess.Popen([_bin("dagster-daemon"), "run", "-m", "sage_pipelines.definitions"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0)
    home = _home(home_root)
    out = []
    try:
        with DagsterInstance.get() as instance:
            _wait_for_run(instance, new_upload(home, _small_csv(tmp, 0)))
            for n in range(1, runs + 1):
                landing = time.time()
                records = _wait_for_run(instance, new_upload(home, _small_csv(tmp, n)))
                created = min(r.create_timestamp.timestamp() for r in records)
                started = min(r.start_time for r in records)
                ended = max(r.end_time for r in records)
                out.append({"total": ended - landing, "tick": created - landing, "queue": started - created,
                            "run": ended - started})
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)  # the daemon's own group: its code server too
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
    return out


def _home(root: Path) -> SageHome:
    return SageHome(root)


def materialize_cli_seconds(home_root: Path, tmp: Path, env: dict[str, str], n: int) -> float:
    """Land a small upload, then `sage materialize --in-process` it in a new process; both timed."""
    started = time.perf_counter()
    upload_id = new_upload(_home(home_root), _small_csv(tmp, n))
    return time.perf_counter() - started + _run([_bin("sage"), "materialize", "bench_ventas", "--upload", upload_id,
                                                 "--in-process"], env)


def run(args: argparse.Namespace) -> dict[str, float]:
    runs = args.small_runs
    schema = f"sage_bench_small_{uuid.uuid4().hex[:6]}"
    saved_env = {k: os.environ.get(k) for k in ("SAGE_HOME", "DAGSTER_HOME")}
    with tempfile.TemporaryDirectory(prefix="sage_bench_small_") as tmp_name:
        tmp = Path(tmp_name)
        try:
            trivial = statistics.median(trivial_seconds(tmp) for _ in range(runs))
            root = tmp / "home"
            home = prepare_home(root, PG_URL, SAGE_YAML, schema)
            os.environ["SAGE_HOME"] = str(root)
            ensure_dagster_home(home)  # sets DAGSTER_HOME
            env = dict(os.environ)
            print(f"small upload: {_small_csv(tmp, 0).stat().st_size / 1e3:.0f} KB, {SMALL_ROWS:,} rows", flush=True)
            sensor = sensor_latencies(root, tmp, env, runs)
            cli = statistics.median(materialize_cli_seconds(root, tmp, env, 100 + n) for n in range(runs))
        finally:
            drop_schema(PG_URL, schema)
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    median = {k: statistics.median(s[k] for s in sensor) for k in ("total", "tick", "queue", "run")}
    print(f"\n| {'path (100 KB upload -> committed PostgreSQL table)':<58} | {'seconds':>8} | {'x trivial':>9} |")
    print(f"|{'-' * 60}|{'-' * 9}:|{'-' * 10}:|")
    rows = [("trivial `dagster asset materialize` (the yardstick)", trivial),
            ("`sage materialize --in-process` (landing + CLI process)", cli),
            ("landing sensor + real daemon: landing to run end", median["total"]),
            ("  of which: waiting for the sensor's tick", median["tick"]),
            ("  of which: run queue and launch", median["queue"]),
            ("  of which: the run", median["run"])]
    for label, seconds in rows:
        print(f"| {label:<58} | {seconds:>8.2f} | {seconds / trivial:>9.2f} |")
    for label, seconds in rows[1:3]:
        verdict = "met" if seconds <= TARGET * trivial else "NOT met"
        print(f"{label}: {seconds / trivial:.2f}x trivial (target <= {TARGET}x: {verdict})")
    return {"trivial": trivial, "cli": cli, **{f"sensor_{k}": v for k, v in median.items()}}
