"""Following queued runs to their end: what `sage materialize` and `sage backfill` print while the
daemon runs them.

Runs go through the instance's run queue (`submit.submit_upload`), so its limits hold: one run
per DuckDB file or Hudi table, a remote server's capacity. Something must take them off the
queue: the Dagster daemon of this home (`sage dev` starts it with the UI). `require_daemon`
refuses, in one line, when none has sent a heartbeat lately, instead of leaving runs queued
with nobody to launch them. While the runs go, each one's event log is polled and every step's
start and result is printed as it happens; a failure ends in one line per failed step, as with
`--in-process` (`run.collect_event`). `verbose` adds every event of the log, stack traces too.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import Callable

from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus

from sage_pipelines.errors import SageError
from sage_pipelines.orchestration.run import (AssetOutcome, RunOutcome, collect_event, materialize_upload,
                                             merge_outcomes, step_assets)
from sage_pipelines.orchestration.definitions_factory import check_store_current
from sage_pipelines.orchestration.submit import SubmittedRun, run_url, submit_upload
from sage_pipelines.servers.instance import ensure_dagster_home
from sage_pipelines.settings import SageHome

Echo = Callable[[str], None]

QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"  # the daemon part that launches queued runs
# The daemon beats every 30 s; silent for longer than this, it is taken as stopped.
DAEMON_SILENT_SECONDS = 90.0
POLL_SECONDS = 0.5
PROGRESS = {DagsterEventType.RUN_START, DagsterEventType.STEP_START, DagsterEventType.STEP_FAILURE,
            DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE,
            DagsterEventType.RUN_CANCELED}


def daemon_alive(instance: DagsterInstance) -> bool:
    """Whether the daemon that launches queued runs has sent a heartbeat lately."""
    beat = instance.get_daemon_heartbeats().get(QUEUE_DAEMON)
    return beat is not None and time.time() - beat.timestamp <= DAEMON_SILENT_SECONDS


def require_daemon(instance: DagsterInstance, home: SageHome) -> None:
    if not daemon_alive(instance):
        raise SageError(f"no Dagster daemon is running for SAGE_HOME={home.root}, so queued runs would never start: "
                        "start `sage dev` (the UI and its daemon) in another terminal, or run with --in-process")


def result_line(asset: AssetOutcome) -> str:
    """What one asset's write did, as `sage materialize` prints it."""
    m = asset.metadata
    return (f"{'/'.join(asset.key)}: {m.get('dagster/table_name')} rows={m.get('dagster/row_count')} "
            f"inserted={m.get('inserted')} updated={m.get('updated')} deleted={m.get('deleted')} "
            f"seconds={m.get('seconds')} server={m.get('server')}")


def _log_line(record, run_id: str) -> str:  # noqa: ANN001 (Dagster's EventLogRecord)
    entry = record.event_log_entry
    event = entry.dagster_event
    when = dt.datetime.fromtimestamp(entry.timestamp).strftime("%Y-%m-%d %H:%M:%S")
    parts = [when, logging.getLevelName(entry.level) if isinstance(entry.level, int) else str(entry.level),
             run_id[:8], entry.step_key or "", event.event_type_value if event else ""]
    text = " - ".join(p for p in parts if p) + f" - {entry.user_message or entry.message}"
    error = getattr(event.event_specific_data, "error", None) if event else None
    return text + ("\n" + error.to_string() if error is not None else "")


class _Followed:
    """One run: its event-log cursor and what it has told so far."""

    def __init__(self, run: SubmittedRun, casilla: str, upload_id: str) -> None:
        self.run = run
        self.casilla = casilla
        self.cursor: str | None = None
        self.outcome = RunOutcome(run_id=run.run_id, success=False, upload_id=upload_id)
        self.assets = step_assets_of(run)
        self.finished = False


def step_assets_of(run: SubmittedRun) -> dict[str, str]:
    return step_assets([AssetKey(k) for k in run.asset_keys])


def follow_runs(instance: DagsterInstance, runs: list[SubmittedRun], upload_id: str, home: SageHome, casilla: str,
                echo: Echo, log: Echo | None = None) -> RunOutcome:
    """Wait for `runs` (one upload's, one per server) to finish, printing with `echo` each step's
    start and result as the event logs show them (and every event with `log`, when given).
    Returns one outcome over all of them."""
    followed = [_Followed(run, casilla, upload_id) for run in runs]
    for f in followed:
        echo(f"run {f.run.run_id} queued for upload {upload_id} on server {f.run.server}: {run_url(f.run.run_id)}")
    landing = home.landing / casilla
    last_beat_check = time.monotonic()
    while not all(f.finished for f in followed):
        for f in followed:
            if not f.finished:
                _poll(instance, f, landing, echo, log)
        if all(f.finished for f in followed):
            break
        if time.monotonic() - last_beat_check > 10:
            last_beat_check = time.monotonic()
            if not daemon_alive(instance):
                pending = ", ".join(f.run.run_id for f in followed if not f.finished)
                raise SageError(f"the Dagster daemon of SAGE_HOME={home.root} stopped while runs were pending "
                                f"({pending}): they go on once `sage dev` runs again")
        time.sleep(POLL_SECONDS)
    return merge_outcomes([f.outcome for f in followed], upload_id)


def _poll(instance: DagsterInstance, f: _Followed, landing: Path, echo: Echo, log: Echo | None) -> None:
    """Read what is new in one run's event log; mark it finished once its run is."""
    run = instance.get_run_by_id(f.run.run_id)
    while True:
        page = instance.get_records_for_run(f.run.run_id, cursor=f.cursor, of_type=None if log else PROGRESS,
                                            limit=500)
        for record in page.records:
            _tell(f, record, landing, echo, log)
        f.cursor = page.cursor
        if not page.has_more:
            break
    if run is None:
        raise SageError(f"run {f.run.run_id} is gone from the Dagster instance")
    if run.is_finished:
        f.finished = True
        f.outcome.success = run.status == DagsterRunStatus.SUCCESS
        if run.status == DagsterRunStatus.CANCELED and not f.outcome.errors:
            f.outcome.errors.append(f"run {run.run_id} was canceled")
        if f.outcome.success:
            echo(f"run {run.run_id} succeeded for upload {f.outcome.upload_id}")


def _tell(f: _Followed, record, landing: Path, echo: Echo, log: Echo | None) -> None:  # noqa: ANN001 (an EventLogRecord)
    entry = record.event_log_entry
    if log is not None:
        log(_log_line(record, f.run.run_id))
    event = entry.dagster_event
    if event is None:
        return
    before = len(f.outcome.assets)
    collect_event(f.outcome, event, f.assets, f.casilla, landing)
    asset = f.assets.get(event.step_key or "", event.step_key)
    if event.event_type == DagsterEventType.RUN_START:
        echo(f"run {f.run.run_id} started")
    elif event.event_type == DagsterEventType.STEP_START:
        echo(f"{asset}: writing")
    elif event.event_type == DagsterEventType.STEP_FAILURE:
        echo(f"{asset}: failed")
    elif len(f.outcome.assets) > before:
        echo(result_line(f.outcome.assets[-1]))


def materialize_queued(casilla: str, upload_id: str | None = None, tables: list[str] | None = None,
                       destinations: list[str] | None = None, home: SageHome | None = None,
                       echo: Echo = print, log: Echo | None = None) -> RunOutcome:
    """`sage materialize`: queue the upload's runs (one per server the balancer picks) and wait for
    them, telling their progress; refuses when no daemon would ever launch them."""
    home = home or SageHome.from_env()
    check_store_current(home)
    ensure_dagster_home(home)
    upload_id, runs = submit_upload(casilla, upload_id, tables, destinations, home,
                                    before_queue=lambda instance: require_daemon(instance, home))
    instance = DagsterInstance.get()
    try:
        return follow_runs(instance, runs, upload_id, home, casilla, echo, log)
    finally:
        instance.dispose()


def materialize_told(casilla: str, upload_id: str | None = None, tables: list[str] | None = None,
                     destinations: list[str] | None = None, home: SageHome | None = None, echo: Echo = print,
                     log: Echo | None = None, in_process: bool = False) -> RunOutcome:
    """Through the run queue, telling progress as it happens (`materialize_queued`); or, with
    `in_process`, executed in this process (no queue, no daemon: tests and debugging), each
    table's result told once the run is over. The CLI's `materialize` and `backfill` both."""
    if not in_process:
        return materialize_queued(casilla, upload_id, tables, destinations, home, echo, log)
    check_store_current(home or SageHome.from_env())
    outcome = materialize_upload(casilla, upload_id, tables=tables, destinations=destinations, home=home,
                                 log_level="DEBUG" if log else "CRITICAL")
    for asset in outcome.assets:
        echo(result_line(asset))
    if outcome.success:
        echo(f"run {outcome.run_id} succeeded for upload {outcome.upload_id}")
    return outcome
