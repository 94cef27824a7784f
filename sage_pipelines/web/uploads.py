"""Uploads, their runs, the materialization history and the audit log.

An upload (a catalog file or a ZIP package) streams to disk as it arrives (`services.files`),
is landed by `services.uploads.add_upload` (the checks and the atomic move of `sage uploads
add`) and, unless the box is unticked, its runs are queued at once through
`orchestration.submit.land_and_submit`, as the API's upload does; the daemon of `sage dev`
launches them. The upload's page follows the runs until they end (it refreshes itself) and
shows the history rows they wrote, with links into the Dagster UI for each run and asset.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.errors import ConfigError, SageError
from sage_pipelines.materialization.names import dagster_name
from sage_pipelines.orchestration.submit import land_and_submit, submit_upload
from sage_pipelines.services.casillas import get_casilla, list_casillas
from sage_pipelines.services.audit import list_audit
from sage_pipelines.services.durations import parse_since
from sage_pipelines.services.files import incoming, save_stream
from sage_pipelines.services.history import history
from sage_pipelines.services.uploads import add_upload, list_uploads
from sage_pipelines.store.models import MaterializationHistory, MaterializationTable, Upload
from sage_pipelines.web.forms import text, uploaded
from sage_pipelines.web.render import render
from sage_pipelines.web.runs import FINISHED, upload_runs
from sage_pipelines.web.session import Console, call, page, redirect

router = APIRouter()

RECENT = 30
REFRESH_SECONDS = 3
ORIGIN = "web"  # an upload's `origen` when it came through the pages


def _recent_uploads(session: Session, casilla: str | None) -> list[dict[str, Any]]:
    names = [casilla] if casilla else [c.nombre for c in list_casillas(session)]
    rows = [u for name in names for u in list_uploads(session, name)]
    rows.sort(key=lambda u: u.creado_en, reverse=True)
    return [{"id": u.id, "casilla": u.casilla.nombre, "files": u.archivos, "bytes": u.tamano_bytes,
             "created": u.creado_en, "origin": u.origen} for u in rows[:RECENT]]


async def _uploads_page(request: Request, c: Console, casilla: str | None, status: int = 200) -> Response:
    casillas = await call(c, lambda s: [x.nombre for x in list_casillas(s)])
    if casilla not in casillas:
        casilla = None
    uploads = await call(c, _recent_uploads, casilla)
    return render(request, "uploads.html", c, {"casillas": casillas, "casilla": casilla, "uploads": uploads},
                  status=status)


@router.get("/uploads")
@page("read")
async def uploads_page(request: Request, casilla: str | None = None) -> Response:
    return await _uploads_page(request, request.state.console, casilla)


@router.post("/uploads")
@page("uploads.write", form=True)
async def upload_form(request: Request) -> Response:
    c, form = request.state.console, request.state.form
    casilla = text(form, "casilla") or ""
    run = form.get("run") == "on"
    file = uploaded(form, "file")
    if file is None:
        c.errors["file"] = "choose a file: a catalog file of the casilla or its ZIP package"
        return await _uploads_page(request, c, casilla, status=400)
    if run and not c.can("runs.write"):
        c.errors["run"] = f"your role ({c.principal.role}) may land uploads but not start runs; untick the box"
        return await _uploads_page(request, c, casilla, status=403)
    with incoming(c.home) as folder:
        try:
            await call(c, get_casilla, casilla)
            path = save_stream(file.file, folder, file.filename)
            if run:
                upload_id, runs = await run_in_threadpool(land_and_submit, c.home, casilla, path, None, ORIGIN, True)
            else:
                upload_id = await call(c, lambda s: add_upload(s, c.home, casilla, path, origen=ORIGIN, move=True).id)
        except SageError as exc:
            c.errors["casilla" if "casilla" in str(exc) and "unknown" in str(exc) else "file"] = str(exc)
            return await _uploads_page(request, c, casilla, status=400)
    if run:
        c.tell(f"upload {upload_id} landed in {casilla}; {len(runs)} run(s) queued")
    else:
        c.tell(f"upload {upload_id} landed in {casilla}")
    return redirect(f"/uploads/{casilla}/{upload_id}", c, request)


def _asset_keys(session: Session, rows: list[MaterializationHistory]) -> dict[int, list[str]]:
    """History row id -> its Dagster asset key [destination alias, casilla, catalog]."""
    ids = {h.tabla_id for h in rows if h.tabla_id is not None}
    catalogs = dict(session.execute(select(MaterializationTable.id, MaterializationTable.catalogo)
                                    .where(MaterializationTable.id.in_(ids))).all()) if ids else {}
    return {h.id: [h.destino, h.casilla, dagster_name(catalogs[h.tabla_id])]
            for h in rows if h.tabla_id in catalogs}


def _history_rows(session: Session, casilla: str | None, upload_id: str | None = None,
                  limit: int = 100) -> list[dict[str, Any]]:
    pairs = history(session, casilla, limit, upload_id=upload_id)
    keys = _asset_keys(session, [h for h, _ in pairs])
    return [{"casilla": h.casilla, "table": h.tabla, "destination": h.destino, "upload": h.upload_id,
             "state": h.estado, "strategy": h.estrategia, "rows": h.filas, "inserted": h.insertadas,
             "updated": h.actualizadas, "deleted": h.eliminadas, "seconds": h.segundos, "server": server,
             "reason": h.razon_servidor, "error": h.error, "run_id": h.dagster_run_id, "started": h.iniciado_en,
             "finished": h.finalizado_en, "asset": keys.get(h.id)} for h, server in pairs]


def _upload(session: Session, casilla: str, upload_id: str) -> dict[str, Any]:
    row = get_casilla(session, casilla)
    upload = session.get(Upload, upload_id)
    if upload is None or upload.casilla_id != row.id:
        raise ConfigError(f"casilla {casilla!r} has no upload {upload_id!r}")
    return {"id": upload.id, "casilla": casilla, "files": upload.archivos, "bytes": upload.tamano_bytes,
            "created": upload.creado_en, "origin": upload.origen,
            "history": _history_rows(session, casilla, upload_id)}


@router.get("/uploads/{casilla}/{upload_id}")
@page("read")
async def upload_page(request: Request, casilla: str, upload_id: str) -> Response:
    c = request.state.console
    try:
        upload = await call(c, _upload, casilla, upload_id)
    except SageError as exc:
        c.errors["_form"] = str(exc)
        return await _uploads_page(request, c, casilla, status=404)
    runs = await run_in_threadpool(upload_runs, c.home, casilla, upload_id)
    waiting = any(r["status"] not in FINISHED for r in runs)
    return render(request, "upload.html", c, {"upload": upload, "runs": runs, "waiting": waiting,
                                              "refresh": REFRESH_SECONDS})


@router.post("/uploads/{casilla}/{upload_id}/run")
@page("runs.write", form=True)
async def run_upload_form(request: Request, casilla: str, upload_id: str) -> Response:
    c = request.state.console
    try:
        await call(c, _upload, casilla, upload_id)
    except SageError as exc:
        c.errors["_form"] = str(exc)
        return await _uploads_page(request, c, casilla, status=404)
    try:
        _upload_id, runs = await run_in_threadpool(lambda: submit_upload(casilla, upload_id, home=c.home))
    except SageError as exc:
        c.errors["_form"] = str(exc)
        return await _uploads_page(request, c, casilla, status=400)
    c.tell(f"{len(runs)} run(s) of upload {upload_id} queued")
    return redirect(f"/uploads/{casilla}/{upload_id}", c, request)


@router.get("/history")
@page("read")
async def history_page(request: Request, casilla: str | None = None) -> Response:
    c = request.state.console
    casilla = casilla or None
    try:
        rows = await call(c, _history_rows, casilla)
    except SageError as exc:
        c.errors["casilla"] = str(exc)
        rows = []
    casillas = await call(c, lambda s: [x.nombre for x in list_casillas(s)])
    return render(request, "history.html", c, {"rows": rows, "casilla": casilla, "casillas": casillas})


AUDIT_ROWS = 200


@router.get("/audit")
@page("audit.read")
async def audit_page(request: Request, object: str | None = None, actor: str | None = None,
                     since: str | None = None) -> Response:
    """What `sage audit --object X --actor U --since T` prints, as a table."""
    c = request.state.console
    when = None
    if since:
        try:
            when = parse_since(since, "since")
        except SageError as exc:
            c.errors["since"] = str(exc)
    rows = await call(c, lambda s: list_audit(s, obj=object or None, actor=actor or None, since=when,
                                                limit=AUDIT_ROWS))
    return render(request, "audit.html", c, {"rows": rows, "filters": {"object": object or "", "actor": actor or "",
                                                                      "since": since or ""}})
