"""The executions sensor: a SAGE installation's validated executions become uploads.

SAGE writes `executions/<uuid>/` with `input.yaml`, `data.<ext>` (the uploaded file, renamed)
and `report.json` last. Once `report.json` exists and its `summary.status` is accepted
(`Éxito` by default; `SAGE_EXECUTIONS_ACCEPT=Éxito,Parcial` to take partial ones too), the data
file lands as upload `<uuid>` of the casilla named by `execution_info.casilla_id`; the landing
sensor then turns it into a partition and a run like any other upload.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dagster import DefaultSensorStatus, SensorDefinition, SensorEvaluationContext, SkipReason, sensor

from sage_pipelines.errors import SageError
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


def build_executions_sensor(home: SageHome) -> SensorDefinition:
    @sensor(name="sage_executions_sensor", minimum_interval_seconds=30,
            default_status=DefaultSensorStatus.RUNNING,
            description="Lands each validated SAGE execution (executions/<uuid>/) as an upload")
    def _executions(context: SensorEvaluationContext):
        root = home.executions
        done: set[str] = set(json.loads(context.cursor)) if context.cursor else set()
        if not root.is_dir():
            return SkipReason(f"{root} does not exist")
        refs = _casilla_refs(home)
        landed = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in done):
            try:
                outcome = land_execution(home, folder, refs)
            except SageError as exc:
                outcome = f"skipped ({exc})"
            if outcome == "pending" or outcome.startswith(RETRY):
                continue  # look again next tick: SAGE is still writing, or the casilla is not registered yet
            context.log.info(f"execution {folder.name}: {outcome}")
            done.add(folder.name)
            if outcome.startswith("landed"):
                landed.append(folder.name)
        context.update_cursor(json.dumps(sorted(done)))
        return SkipReason(f"landed {len(landed)} execution(s); the landing sensor requests their runs")

    return _executions
