"""`sage materialize` and `sage backfill` go through the instance's run queue, launched by a real
`dagster-daemon`, and tell each step's progress as it happens; without a daemon they say so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance, RunsFilter

from sage_pipelines.demo import register_demo
from sage_pipelines.demo.data import write_week
from sage_pipelines.orchestration.naming import catalog_key
from sage_pipelines.servers.instance import ensure_dagster_home
from sage_pipelines.services.home import init_home
from sage_pipelines.settings import SageHome
from sage_pipelines_tests.conftest import run_sage
from sage_pipelines_tests.orchestration_fixtures import CASILLA, demo_home, running_daemon  # noqa: F401

pytestmark = pytest.mark.slow


def sage(home: SageHome, *argv: str) -> subprocess.CompletedProcess:
    return run_sage(home.root, *argv, DAGSTER_HOME=str(home.dagster_home))


def stop_landing_sensor(home: SageHome) -> None:
    """These tests start every run themselves: the landing sensor would add its own runs of the
    same uploads at any moment (`test_webserver` covers that path)."""
    env = {**os.environ, "SAGE_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)}
    done = subprocess.run([sys.executable, "-m", "dagster", "sensor", "stop", "sage_landing_sensor",
                           "-m", "sage_pipelines.definitions"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def queued_home(tmp_path_factory: pytest.TempPathFactory):
    """One demo home for the module, with a real daemon running on its instance (the landing
    sensor stopped)."""
    root = tmp_path_factory.mktemp("queue")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAGE_HOME", str(root / "home"))
        mp.setenv("DAGSTER_HOME", str(root / "home" / "dagster"))
        mp.delenv("SAGE_STORE_URL", raising=False)
        mp.delenv("SAGE_SECRET_KEY", raising=False)
        home = register_demo(init_home(SageHome.from_env()))
        ensure_dagster_home(home)
        stop_landing_sensor(home)
        with running_daemon(home, root / "daemon.log"):
            yield home


def add_week(home: SageHome, tmp: Path, week: int, upload_id: str) -> str:
    folder = write_week(tmp / upload_id, week)
    done = sage(home, "uploads", "add", CASILLA, str(folder), "--id", upload_id)
    assert done.returncode == 0, done.stderr
    return upload_id


def runs_of(home: SageHome, upload_id: str) -> list:
    with DagsterInstance.from_config(str(home.dagster_home)) as instance:
        records = instance.get_run_records(RunsFilter(tags={"sage/upload_id": upload_id}), ascending=True)
        return [(r, [e.dagster_event.event_type for e in instance.all_logs(r.dagster_run.run_id)
                     if e.dagster_event is not None]) for r in records]


def test_materialize_queues_its_run_for_the_daemon_and_prints_each_step_as_it_happens(queued_home, tmp_path):
    upload = add_week(queued_home, tmp_path, 1, "q-week1")
    done = sage(queued_home, "materialize", CASILLA, "--upload", upload)
    assert done.returncode == 0, done.stdout + done.stderr
    [(record, events)] = runs_of(queued_home, upload)
    run = record.dagster_run
    # through the queue: enqueued, then launched by the daemon, with the writer tag the queue limits
    assert events.index(DagsterEventType.RUN_ENQUEUED) < events.index(DagsterEventType.RUN_STARTING) \
        < events.index(DagsterEventType.RUN_START)
    assert run.tags["sage/file_writer"] == "warehouse" and run.tags["sage/upload_id"] == upload
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"run {run.run_id} queued for upload {upload} on server local: http")
    assert lines[1] == f"run {run.run_id} started"
    assert lines[-1] == f"run {run.run_id} succeeded for upload {upload}"
    for table in ("dim_clientes", "fact_ventas"):
        writing = lines.index(f"warehouse/{CASILLA}/{table}: writing")
        [result] = [i for i, line in enumerate(lines)
                    if line.startswith(f"warehouse/{CASILLA}/{table}: warehouse.main.{table} rows=")]
        assert writing < result  # the step's start, then its result
    assert done.stderr == ""
    with DagsterInstance.from_config(str(queued_home.dagster_home)) as instance:  # the upload's files observed
        observed = instance.fetch_observations(catalog_key(CASILLA, "ventas"), limit=10).records
    assert [o.partition_key for o in observed] == [upload]


def test_a_queued_run_that_fails_ends_in_one_line_per_failed_step(queued_home, tmp_path):
    upload = add_week(queued_home, tmp_path, 1, "q-bad")
    ventas = Path(queued_home.upload_dir(CASILLA, upload)) / "ventas.csv"
    lines = ventas.read_text(encoding="utf-8").splitlines()
    fields = lines[4].split(",")
    fields[5] = "tres"
    lines[4] = ",".join(fields)
    ventas.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = sage(queued_home, "materialize", CASILLA, "--upload", upload, "--table", "ventas")
    assert done.returncode == 1
    bad = f"{upload}/ventas.csv, line 5, column 'cantidad': not a whole number: 'tres'"
    assert sorted(done.stderr.splitlines()) == [f"sage: error: lake/{CASILLA}/lake.fact_ventas: {bad}",
                                               f"sage: error: warehouse/{CASILLA}/fact_ventas: {bad}"]
    assert done.stdout.splitlines()[-1].endswith(f"failed for upload {upload} (full log: the Dagster UI, or --verbose)")
    assert f"lake/{CASILLA}/lake.fact_ventas: failed" in done.stdout.splitlines()
    verbose = sage(queued_home, "materialize", CASILLA, "--upload", upload, "--table", "ventas",
                   "--destination", "warehouse", "--verbose")
    assert verbose.returncode == 1
    assert "STEP_FAILURE" in verbose.stderr and "Stack Trace" in verbose.stderr
    assert verbose.stderr.splitlines()[-1] == f"sage: error: warehouse/{CASILLA}/fact_ventas: {bad}"


def fact_ventas_weeks(home: SageHome) -> list[tuple]:
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        return con.execute("SELECT semana, _sage_upload_id, count(*) FROM fact_ventas GROUP BY 1, 2 ORDER BY 1").fetchall()
    finally:
        con.close()


def test_sage_backfill_rematerializes_a_range_in_upload_order_one_run_at_a_time(queued_home, tmp_path):
    # Added in this order; the ids do not sort that way, the backfill follows the order they were added.
    ids = [add_week(queued_home, tmp_path, week, upload_id) for week, upload_id in
           ((1, "bf-c"), (2, "bf-b"), (3, "bf-a"), (3, "bf-0"))]
    done = sage(queued_home, "backfill", CASILLA, "--from", "bf-b", "--to", "bf-0")
    assert done.returncode == 0, done.stdout + done.stderr
    told = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("upload ")]
    assert told == ["bf-b", "bf-a", "bf-0"]
    assert "(1 of 3)" in done.stdout and "(3 of 3)" in done.stdout
    assert done.stdout.splitlines()[-1] == f"backfill of {CASILLA}: 3 upload(s) re-materialized, bf-b to bf-0"
    spans = []
    for upload in ("bf-b", "bf-a", "bf-0"):
        [(record, _events)] = runs_of(queued_home, upload)
        spans.append((record.start_time, record.end_time))
    assert runs_of(queued_home, "bf-c") == []  # before the range: not run
    for (_, ended), (started, _) in zip(spans, spans[1:]):
        assert ended <= started  # one upload at a time, in upload order
    # delete_insert by semana: week 3's rows were last written by bf-0, the last upload of the range
    weeks = {semana: upload for semana, upload, _ in fact_ventas_weeks(queued_home)}
    assert weeks[2] == "bf-b" and weeks[3] == "bf-0"


def test_sage_backfill_refuses_a_bound_that_is_not_an_upload_of_the_casilla(queued_home):
    done = sage(queued_home, "backfill", CASILLA, "--from", "no-such-upload")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"sage: error: casilla '{CASILLA}' has no upload 'no-such-upload' (--from)"]


def test_materialize_without_a_daemon_says_so_in_one_line_and_queues_nothing(demo_home, tmp_path):
    folder = write_week(tmp_path / "w1", 1)
    assert sage(demo_home, "uploads", "add", CASILLA, str(folder), "--id", "no-daemon").returncode == 0
    done = sage(demo_home, "materialize", CASILLA)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"sage: error: no Dagster daemon is running for SAGE_HOME={demo_home.root}, so queued runs would never "
        "start: start `sage dev` (the UI and its daemon) in another terminal, or run with --in-process"]
    assert runs_of(demo_home, "no-daemon") == []
    here = sage(demo_home, "materialize", CASILLA, "--in-process")
    assert here.returncode == 0, here.stderr
    assert here.stdout.splitlines()[-1].endswith("succeeded for upload no-daemon")
