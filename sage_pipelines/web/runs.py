"""Runs the console starts, and what Dagster knows about an upload's runs.

A run started from the uploads page is `sage materialize CASILLA --upload ID` in a process of
its own (one at a time, from one worker thread): Dagster runs in threads of the server's process
would race on a SQLite instance's schema checks, and a run must not share the web server's
fate. The page follows the run in the Dagster instance itself (runs tagged with the upload id),
so it shows runs started any way (the landing sensor, the CLI, a backfill) the same; one
instance per SAGE_HOME is opened once and read under a lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from dagster import DagsterInstance, RunsFilter

from sage_pipelines.servers.instance import ensure_dagster_home
from sage_pipelines.settings import SageHome

log = logging.getLogger(__name__)

FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


@dataclass
class Submission:
    """A run the console asked for: queued, running, done or failed (with the one-line reason)."""

    state: str = "queued"
    run_ids: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sage-console-run")
_lock = threading.Lock()
_submissions: dict[tuple[str, str, str], Submission] = {}
_instance_lock = threading.Lock()
_instances: dict[str, DagsterInstance] = {}
ERROR_PREFIX = "sage: error: "
_RUN_ID = re.compile(r"\brun ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b")


def _key(home: SageHome, casilla: str, upload_id: str) -> tuple[str, str, str]:
    return (str(home.root), casilla, upload_id)


def start_run(home: SageHome, casilla: str, upload_id: str) -> Submission:
    """Queue the materialization of one upload (all its tables and destinations)."""
    submission = Submission()
    with _lock:
        _submissions[_key(home, casilla, upload_id)] = submission
    _worker.submit(_run, home, casilla, upload_id, submission)
    return submission


def _run(home: SageHome, casilla: str, upload_id: str, submission: Submission) -> None:
    submission.state = "running"
    env = {**os.environ, "SAGE_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)}
    done = subprocess.run([sys.executable, "-m", "sage_pipelines.cli", "materialize", casilla, "--upload", upload_id],
                          env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    submission.run_ids = _RUN_ID.findall(done.stdout + done.stderr)
    if done.returncode == 0:
        submission.state = "done"
        return
    errors = [line.removeprefix(ERROR_PREFIX) for line in done.stderr.splitlines() if line.startswith(ERROR_PREFIX)]
    if not errors:  # not a user mistake: keep the whole output in the server's log
        log.error("sage materialize %s --upload %s exited %s:\n%s", casilla, upload_id, done.returncode,
                  done.stderr[-4000:])
    submission.state = "failed"
    submission.error = "; ".join(errors) or f"sage materialize exited {done.returncode}; see the server log"


def submission(home: SageHome, casilla: str, upload_id: str) -> Submission | None:
    with _lock:
        return _submissions.get(_key(home, casilla, upload_id))


def _instance(home: SageHome) -> DagsterInstance:
    """This home's Dagster instance, opened once (call with `_instance_lock` held)."""
    key = str(home.root)
    if key not in _instances:
        ensure_dagster_home(home)
        _instances[key] = DagsterInstance.from_config(str(home.dagster_home))
    return _instances[key]


def upload_runs(home: SageHome, casilla: str, upload_id: str) -> list[dict[str, Any]]:
    """The Dagster runs of one upload, newest first: id, job, status, server, start and end."""
    with _instance_lock:
        records = _instance(home).get_run_records(
            filters=RunsFilter(tags={"sage/casilla": casilla, "sage/upload_id": upload_id}), limit=20)
    return [{"run_id": r.dagster_run.run_id, "job": r.dagster_run.job_name,
             "status": r.dagster_run.status.value, "server": r.dagster_run.tags.get("sage/server"),
             "reason": r.dagster_run.tags.get("sage/server_reason"),
             "started": _utc(r.start_time), "ended": _utc(r.end_time)} for r in records]


def _utc(timestamp: float | None) -> dt.datetime | None:
    """A Dagster timestamp as the store writes times (naive UTC)."""
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).replace(tzinfo=None)
