"""A casilla's materialization page: one section per catalog, a destination selector, Save.

Pre-filled from the stored materialization when there is one, else from `analyze` proposals on
the casilla's newest upload (or on a sample sent with "Analyze a sample"), else from the SAGE
YAML alone. Save builds the materialization YAML from the form and applies it through
`services.materializations.apply_materialization`, exactly as `sage materializations apply`
would; the stored YAML (`export`) is shown beside the form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from sage_pipelines.destinations.registry import LAKE_FORMATS
from sage_pipelines.errors import ConfigError, SageError
from sage_pipelines.materialization.persist import spec_from_row
from sage_pipelines.services.analysis import NoSample, Proposal, propose, propose_declared
from sage_pipelines.services.casillas import load_casilla
from sage_pipelines.services.connections import list_connections
from sage_pipelines.services.files import incoming, save_stream
from sage_pipelines.services.lakes import list_lakes
from sage_pipelines.services.materializations import (apply_materialization, export_materialization,
                                                      list_materializations)
from sage_pipelines.services.servers import list_servers
from sage_pipelines.web.forms import uploaded
from sage_pipelines.web.materialization_form import (SCHEMA_CHANGES, SOURCE, STRATEGIES, TRANSFORMS, DestinationRow,
                                                     destination_rows, document, document_yaml, error_field,
                                                     values_from_spec)
from sage_pipelines.web.render import render
from sage_pipelines.web.session import Console, call, page, redirect

router = APIRouter()


def _rows(session: Session) -> list[DestinationRow]:
    connections = [(c.nombre, f"{c.secret.tipo}" + (f", schema {c.esquema}" if c.esquema else ""))
                   for c in list_connections(session)]
    lakes = [(x.nombre, x.warehouse) for x in list_lakes(session)]
    return destination_rows(connections, lakes)


def _stored(session: Session, casilla_id: int, name: str | None) -> Any:
    """The casilla's materialization (`name`, else its first one), or None."""
    mine = [m for m in list_materializations(session) if m.casilla_id == casilla_id]
    for m in mine:
        if name is None or m.nombre == name:
            return m
    return None


def _proposal(session: Session, c: Console, casilla: str, sample: Path | None) -> tuple[Proposal, str]:
    """`analyze`'s proposal (no destination yet) and where it came from: a sample, the newest
    upload, or the SAGE YAML alone."""
    try:
        proposal = propose(session, c.home, casilla, sample, connection=None)
    except NoSample:
        return propose_declared(session, casilla, connection=None), (
            "No upload yet: types are the SAGE defaults and keys the fields declared required and unique. "
            "Analyze a sample for better proposals.")
    sampled = ", ".join(f"{key}: {inferred['rows_sampled']} rows" for key, inferred in proposal.inferred.items())
    origin = f"sample {sample.name}" if sample is not None else f"the newest upload ({Path(proposal.source).name})"
    return proposal, f"Proposals from {origin}: {sampled or 'no catalog file found'}."


def _context(session: Session, c: Console, casilla: str, name: str | None, values: Mapping[str, Any] | None,
             sample: Path | None = None) -> dict[str, Any]:
    """Everything the page shows. `values` (a submitted form) win over the stored spec and the proposals."""
    row, sage = load_casilla(session, casilla)
    rows = _rows(session)
    stored = _stored(session, row.id, name)
    proposal, origin = _proposal(session, c, casilla, sample)
    if values is None:
        if stored is not None and sample is None:
            values = values_from_spec(spec_from_row(stored), sage, rows)
            origin = f"Showing the stored materialization {stored.nombre}. " + origin
        else:
            values = values_from_spec(proposal.spec, sage, rows)
    try:
        preview = document_yaml(document(values, casilla, sage, rows))
    except ConfigError as exc:
        preview = f"# {exc}"
    servers = ["auto"] + [s.nombre for s in list_servers(session)]
    return {"casilla": casilla, "sage": sage, "rows": rows, "v": values, "inferred": proposal.inferred, "origin": origin,
            "preview": preview, "exported": export_materialization(session, stored.nombre) if stored else None,
            "stored_name": stored.nombre if stored else None, "servers": servers, "strategies": STRATEGIES,
            "schema_changes": SCHEMA_CHANGES, "transforms": TRANSFORMS, "formats": LAKE_FORMATS}


async def _page(request: Request, c: Console, casilla: str, name: str | None = None,
                values: Mapping[str, Any] | None = None, sample: Path | None = None, status: int = 200) -> Response:
    try:
        context = await call(c, _context, c, casilla, name, values, sample)
    except SageError as exc:
        c.errors["_form"] = str(exc)
        if values is None and sample is None:
            return render(request, "forbidden.html", c, {"message": str(exc)}, status=404)
        context = await call(c, _context, c, casilla, name, values, None)
        status = 400
    return render(request, "materialization.html", c, context, status=status)


@router.get("/casillas/{casilla}/materialization")
@page("read")
async def materialization_page(request: Request, casilla: str, name: str | None = None) -> Response:
    return await _page(request, request.state.console, casilla, name)


@router.post("/casillas/{casilla}/materialization/analyze")
@page("materializations.write", form=True)
async def analyze_sample_form(request: Request, casilla: str) -> Response:
    """Proposals from a sample file (a catalog file or a ZIP package), which is then thrown away."""
    c, form = request.state.console, request.state.form
    file = uploaded(form, "sample")
    if file is None:
        c.errors["sample"] = "choose a sample file (a catalog file or the ZIP package)"
        return await _page(request, c, casilla, status=400)
    with incoming(c.home) as folder:
        try:
            path = save_stream(file.file, folder, file.filename, "sample")
        except SageError as exc:
            c.errors["sample"] = str(exc)
            return await _page(request, c, casilla, status=400)
        try:
            context = await call(c, _context, c, casilla, None, None, path)
        except SageError as exc:
            c.errors["sample"] = str(exc)
            return await _page(request, c, casilla, status=400)
    return render(request, "materialization.html", c, context)


def _save(session: Session, casilla: str, values: Mapping[str, Any]) -> str:
    _row, sage = load_casilla(session, casilla)
    text = document_yaml(document(values, casilla, sage, _rows(session)))
    return apply_materialization(session, text, SOURCE).nombre


@router.post("/casillas/{casilla}/materialization")
@page("materializations.write", form=True)
async def save_materialization_form(request: Request, casilla: str) -> Response:
    c, form = request.state.console, request.state.form
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    try:
        name = await call(c, _save, casilla, values)
    except SageError as exc:
        rows = await call(c, _rows)
        c.errors[error_field(str(exc), rows, values)] = str(exc)
        return await _page(request, c, casilla, values.get("name"), values, status=400)
    c.tell(f"materialization {name} saved")
    return redirect(f"/casillas/{casilla}/materialization?name={name}", c, request)
