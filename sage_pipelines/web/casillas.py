"""Casillas: register one from its SAGE YAML (a file upload), and the casilla's own page.

The casilla page lists its catalogs (file, format, fields with types, required / unique), its
materializations and its uploads, and leads to the materialization form ("Materialize").
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from sage_pipelines.errors import ConfigError, SageError
from sage_pipelines.services.files import decode_text
from sage_pipelines.services.casillas import list_casillas, load_casilla, register_casilla
from sage_pipelines.services.materializations import list_materializations
from sage_pipelines.services.uploads import list_uploads
from sage_pipelines.web.forms import field_for, text, uploaded
from sage_pipelines.web.render import render
from sage_pipelines.web.session import Console, call, page, redirect

router = APIRouter()

MAX_YAML_BYTES = 5 * 1024 * 1024  # a SAGE YAML is text of a few KB; refuse what cannot be one
CASILLA_RULES = (("invalid name", "name"),)


def _casillas(session: Session) -> list[dict[str, Any]]:
    out = []
    for row in list_casillas(session):
        _row, sage = load_casilla(session, row.nombre)
        out.append({"name": row.nombre, "description": row.descripcion, "catalogs": list(sage.catalogs),
                    "updated": row.actualizado_en})
    return out


async def _list_page(request: Request, c: Console, form: dict | None = None, status: int = 200) -> Response:
    rows = await call(c, _casillas)
    return render(request, "casillas.html", c, {"casillas": rows, "form": form or {}}, status=status)


@router.get("/casillas")
@page("read")
async def casillas_page(request: Request) -> Response:
    return await _list_page(request, request.state.console)


@router.post("/casillas")
@page("casillas.write", form=True)
async def register_casilla_form(request: Request) -> Response:
    c, form = request.state.console, request.state.form
    name = text(form, "name") or ""
    try:
        file = uploaded(form, "yaml")
        if file is None:
            raise _YamlMissing("choose the casilla's SAGE YAML file")
        raw = await file.read(MAX_YAML_BYTES + 1)
        if len(raw) > MAX_YAML_BYTES:
            raise _YamlMissing(f"{file.filename}: larger than {MAX_YAML_BYTES // (1024 * 1024)} MB; "
                               "a SAGE YAML is a small text file")
        try:
            yaml_text = decode_text(raw, file.filename)
        except SageError as exc:
            raise _YamlMissing(str(exc)) from None
        await call(c, register_casilla, name, yaml_text, file.filename)
    except SageError as exc:
        c.errors[_casilla_field(exc)] = str(exc)
        return await _list_page(request, c, {"name": name}, status=400)
    c.tell(f"casilla {name} registered")
    return redirect(f"/casillas/{name}", c, request)


class _YamlMissing(ConfigError):
    """A problem with the YAML file field itself (shown beside it)."""


def _casilla_field(exc: SageError) -> str:
    """Name errors beside the name; everything else is about the YAML file."""
    if isinstance(exc, _YamlMissing):
        return "yaml"
    found = field_for(exc, CASILLA_RULES, ("name", "yaml"))
    return "name" if found == "name" else "yaml"


def _casilla(session: Session, name: str) -> dict[str, Any]:
    row, sage = load_casilla(session, name)
    catalogs = [{"key": k, "name": cat.name, "filename": cat.filename, "format": cat.file_format,
                 "description": cat.description, "fields": cat.fields} for k, cat in sage.catalogs.items()]
    materializations = [m.nombre for m in list_materializations(session) if m.casilla_id == row.id]
    uploads = list(reversed(list_uploads(session, name)))[:20]
    return {"name": row.nombre, "title": sage.name, "description": sage.description, "version": sage.version,
            "catalogs": catalogs, "packages": sage.packages, "materializations": materializations,
            "uploads": [{"id": u.id, "files": u.archivos, "bytes": u.tamano_bytes, "created": u.creado_en,
                         "origin": u.origen} for u in uploads]}


@router.get("/casillas/{name}")
@page("read")
async def casilla_page(request: Request, name: str) -> Response:
    c = request.state.console
    try:
        casilla = await call(c, _casilla, name)
    except SageError as exc:
        c.errors["_form"] = str(exc)
        return await _list_page(request, c, status=404)
    return render(request, "casilla.html", c, {"casilla": casilla})
