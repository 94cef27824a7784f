"""A Dagster run whose process is killed with SIGKILL is not left STARTED forever: the next check
(the servers sensor's tick, or the next `sage materialize`) reports it failed, naming the
process; a run whose process is alive is left alone; no history row is left in a running state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from sage_pipelines.servers.run_process import RUN_PROCESS_TAG, fail_dead_runs, process_alive, process_identity
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.history import list_history
from sage_pipelines.store.states import HistoryStatus
from sage_pipelines_tests.orchestration_fixtures import CASILLA, demo_home, land_week  # noqa: F401


def test_a_live_process_is_alive_and_a_dead_or_foreign_one_is_not_judged_alive():
    me = process_identity(os.getpid())
    assert me is not None and process_alive(me) is True
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    dead = process_identity(child.pid)
    child.wait()
    assert dead is not None and process_alive(dead) is False
    host, boot, pid, started = me.split("|")
    assert process_alive(f"{host}|{boot}|{pid}|{int(started) + 1}") is False  # the pid, reused later
    assert process_alive(f"{host}|another-boot|{pid}|{started}") is False  # the machine restarted since
    assert process_alive(f"elsewhere-{host}|{boot}|{pid}|{started}") is None  # another host's: not judged


@pytest.mark.slow
def test_a_run_whose_process_is_killed_is_failed_by_the_next_check(demo_home, tmp_path, figures):
    upload_id = land_week(demo_home, tmp_path, 1)
    env = {**os.environ, "SAGE_HOME": str(demo_home.root), "DAGSTER_HOME": str(demo_home.dagster_home)}
    process = subprocess.Popen([sys.executable, "-m", "sage_pipelines.cli", "materialize", CASILLA,
                                "--upload", upload_id, "--in-process"], env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    instance = DagsterInstance.get()
    try:
        deadline = time.monotonic() + 120
        while not (runs := instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED]))):
            assert process.poll() is None, "sage materialize ended before its run started"
            assert time.monotonic() < deadline, "no run started"
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)  # the command and every step process it started
        process.wait(30)
        run = runs[0]
        assert run.tags[RUN_PROCESS_TAG].split("|")[2] == str(process.pid)
        assert instance.get_run_by_id(run.run_id).status is DagsterRunStatus.STARTED  # nothing else ends it

        assert fail_dead_runs(instance) == [run.run_id]
        assert instance.get_run_by_id(run.run_id).status is DagsterRunStatus.FAILURE
        failure = instance.all_logs(run.run_id)[-1].dagster_event
        assert f"pid {process.pid}" in failure.message and "re-run the upload" in failure.message
        assert fail_dead_runs(instance) == []
    finally:
        instance.dispose()
    with session_scope(demo_home) as session:
        states = [row.estado for row in list_history(session, CASILLA)]
    assert set(states) <= {HistoryStatus.SUCCEEDED, HistoryStatus.FAILED}
    figures(f"sage materialize (pid {process.pid}) killed while its run was STARTED: the run failed by the "
            f"next check; history rows: {len(states)}, none in a running state")
