"""The executions sensor: a SAGE installation's validated executions become uploads.

SAGE writes `executions/<uuid>/` with `input.yaml`, `data.<ext>` (the uploaded file, renamed)
and `report.json` last. Once `report.json` exists and its `summary.status` is accepted
(`Éxito` by default; `SAGE_EXECUTIONS_ACCEPT=Éxito,Parcial` to take partial ones too), the data
file lands as upload `<uuid>` of the casilla named by `execution_info.casilla_id`; the landing
sensor then turns it into a partition and a run like any other upload. The sensor's cursor is a
high-water mark on the reports' change time plus the few names it needs near the mark
(`ExecutionsCursor`): its size does not grow with the executions ever seen.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dagster import DefaultSensorStatus, SensorDefinition, SensorEvaluationContext, SkipReason, sensor

from sage_pipelines.errors import SageError
from sage_pipelines.orchestration.resources import SageStore
from sage_pipelines.services.casillas import list_casillas
from sage_pipelines.services.uploads import add_upload
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.models import Upload


RETRY = "waiting"


def accepted_statuses() -> set[str]:
    return {s.strip() for s in os.environ.get("SAGE_EXECUTIONS_ACCEPT", "Éxito").split(",") if s.strip()}


def read_report(folder: Path) -> dict[str, Any] | None:
    """The execution's report, or None while SAGE is still writing the execution."""
    report = folder / "report.json"
    if not report.is_file():
        return None
    try:
        return json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # partially written: try again next tick


def data_file(folder: Path) -> Path | None:
    files = sorted(p for p in folder.glob("data.*") if p.is_file())
    return files[0] if files else None


def land_execution(home: SageHome, folder: Path, casillas: dict[str, str]) -> str:
    """Land one execution as an upload; returns a short status for the sensor's log."""
    report = read_report(folder)
    if report is None:
        return "pending"
    status = (report.get("summary") or {}).get("status")
    if status not in accepted_statuses():
        return f"skipped (status {status!r})"
    casilla_ref = str((report.get("execution_info") or {}).get("casilla_id", ""))
    casilla = casillas.get(casilla_ref)
    if casilla is None:
        return f"{RETRY} (casilla {casilla_ref!r} is not registered yet)"
    data = data_file(folder)
    if data is None:
        return "skipped (no data.<ext> file)"
    with session_scope(home) as session:
        if session.get(Upload, folder.name) is not None:
            return "already landed"
        add_upload(session, home, casilla, data, upload_id=folder.name, origen="execution")
    return f"landed in {casilla}"


def _casilla_refs(home: SageHome) -> dict[str, str]:
    """Both the casilla's name and its store id name it in a report."""
    with session_scope(home) as session:
        refs = {}
        for row in list_casillas(session):
            refs[row.nombre] = row.nombre
            refs[str(row.id)] = row.nombre
        return refs


@dataclass
class ExecutionsCursor:
    """What the sensor has decided, bounded: a high-water mark on the reports' change time
    (`since`), the folders decided whose report changed at or after it (`seen`, those of the
    last LAG_SECONDS only), and those waiting for their casilla to be registered (`waiting`)."""

    since: float = 0.0
    seen: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str | None) -> "ExecutionsCursor":
        if not text:
            return cls()
        data = json.loads(text)
        if isinstance(data, list):  # before the high-water mark: every folder name ever seen
            return cls(seen=data)
        return cls(float(data.get("since", 0.0)), list(data.get("seen", [])), list(data.get("waiting", [])))

    def dump(self) -> str:
        return json.dumps({"since": self.since, "seen": sorted(self.seen), "waiting": sorted(self.waiting)})


# A report renamed into place while a tick lists the folder may be listed after one renamed later
# (directory order): the mark trails each tick's start by this much, and the folders decided in
# that window are remembered by name.
LAG_SECONDS = 300.0


def report_changed(folder: Path) -> float | None:
    """When the folder's report.json last changed (ctime: a rename into place sets it), or None."""
    try:
        return (folder / "report.json").stat().st_ctime
    except OSError:
        return None


def scan_executions(home: SageHome, cursor: ExecutionsCursor, now: float, log: Callable[[str], None],
                    lag: float = LAG_SECONDS) -> tuple[ExecutionsCursor, list[str]]:
    """One tick: land every execution whose report is new since the cursor (or that waits for its
    casilla); returns the next cursor and the folders landed."""
    root = home.executions
    changed = {p.name: report_changed(p) for p in sorted(root.iterdir()) if p.is_dir()}
    seen, waiting = set(cursor.seen), set(cursor.waiting)
    refs = _casilla_refs(home)
    landed, still_waiting, decided = [], [], set(seen)
    for name, ctime in changed.items():
        if ctime is None or ((ctime < cursor.since or name in seen) and name not in waiting):
            continue  # no report yet, or decided in an earlier tick
        try:
            outcome = land_execution(home, root / name, refs)
        except SageError as exc:
            outcome = f"skipped ({exc})"
        if outcome == "pending":
            continue  # SAGE is still writing it: its report changes again when done
        if outcome.startswith(RETRY):
            still_waiting.append(name)  # look again next tick: the casilla is not registered yet
            continue
        log(f"execution {name}: {outcome}")
        decided.add(name)
        if outcome.startswith("landed"):
            landed.append(name)
    since = max(cursor.since, now - lag)
    recent = [n for n in decided if (changed.get(n) or 0.0) >= since]
    return ExecutionsCursor(since, recent, still_waiting), landed


def build_executions_sensor() -> SensorDefinition:
    @sensor(name="sage_executions_sensor", minimum_interval_seconds=30,
            default_status=DefaultSensorStatus.RUNNING,
            description="Lands each validated SAGE execution (executions/<uuid>/) as an upload")
    def _executions(context: SensorEvaluationContext, sage_store: SageStore):
        home = sage_store.home
        if not home.executions.is_dir():
            return SkipReason(f"{home.executions} does not exist")
        cursor, landed = scan_executions(home, ExecutionsCursor.parse(context.cursor), time.time(), context.log.info)
        context.update_cursor(cursor.dump())
        return SkipReason(f"landed {len(landed)} execution(s); the landing sensor requests their runs")

    return _executions
