"""`/materializations`: create or update one from JSON or YAML with exactly the checks and messages
of `sage materializations apply`; read one back as JSON or export it as YAML (which `apply`
takes back unchanged)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sage_pipelines.api.deps import permit, store
from sage_pipelines.api.schemas import YamlResponse
from sage_pipelines.errors import ConfigError
from sage_pipelines.materialization.export import spec_to_dict
from sage_pipelines.materialization.persist import spec_from_row
from sage_pipelines.services.auth import Principal
from sage_pipelines.services.files import decode_text
from sage_pipelines.services.materializations import (apply_materialization, export_materialization,
                                                      get_materialization, list_materializations)
from sage_pipelines.store.models import Materialization

router = APIRouter(prefix="/materializations", tags=["materializations"])
SOURCE = "body"  # how apply's messages name the document, as the CLI names its file
MAX_BODY = 1 << 20
JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/plain")
_DOCUMENT = {"type": "object", "required": ["materialization"],
             "properties": {"materialization": {"type": "object", "description": "as in the YAML of `apply`"}}}


class MaterializationOut(BaseModel):
    name: str
    casilla: str
    description: str
    server: str
    schedule: str | None = None
    active: bool
    tables: list[str] = Field(description="catalog keys")
    destinations: list[str] = Field(description="destination aliases")


class Applied(MaterializationOut):
    yaml: str = Field(description="the canonical YAML now stored (what `export` prints)")


def materialization_view(row: Materialization) -> MaterializationOut:
    return MaterializationOut(name=row.nombre, casilla=row.casilla.nombre, description=row.descripcion,
                              server=row.servidor, schedule=row.schedule, active=row.activo,
                              tables=[t.catalogo for t in row.tables], destinations=[d.nombre for d in row.destinations])


async def _body(request: Request) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise ConfigError(f"{SOURCE}: larger than {MAX_BODY >> 10} KB; a materialization is a few KB")
    return bytes(data)


def _document(content_type: str, data: bytes) -> str | dict[str, Any]:
    """The YAML text, or the JSON document parsed (apply checks either the same way)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in JSON_TYPES:
        try:
            return json.loads(decode_text(data, SOURCE))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{SOURCE}, line {exc.lineno}: not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise ConfigError(f"{SOURCE}: nested too deeply to be a materialization") from None
    if kind in YAML_TYPES:
        return decode_text(data, SOURCE)
    raise ConfigError(f"{SOURCE}: send the materialization as application/json or application/yaml, "
                      f"not {kind or 'no content type'!r}")


@router.get("", response_model=list[MaterializationOut], summary="List materializations")
def list_all(request: Request, _: Principal = Depends(permit("read"))) -> list[MaterializationOut]:
    with store(request) as session:
        return [materialization_view(m) for m in list_materializations(session)]


@router.post("", response_model=Applied, summary="Create or update a materialization (JSON or YAML), as `apply`",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": _DOCUMENT},
                 "application/yaml": {"schema": _DOCUMENT}}}})
async def apply(request: Request, _: Principal = Depends(permit("materializations.write"))) -> Applied:
    document = _document(request.headers.get("content-type", ""), await _body(request))

    def save() -> Applied:
        with store(request) as session:
            row = apply_materialization(session, document, SOURCE)
            return Applied(**materialization_view(row).model_dump(), yaml=export_materialization(session, row.nombre))

    return await run_in_threadpool(save)


@router.get("/{name}", response_model=dict[str, Any], summary="A materialization as JSON (the document `apply` takes)")
def show(name: str, request: Request, _: Principal = Depends(permit("read"))) -> dict[str, Any]:
    with store(request) as session:
        return spec_to_dict(spec_from_row(get_materialization(session, name)))


@router.get("/{name}/export", response_class=YamlResponse, summary="A materialization as YAML (round-trips with apply)",
            responses={200: {"content": {"application/yaml": {"schema": _DOCUMENT}}}})
def export(name: str, request: Request, _: Principal = Depends(permit("read"))) -> YamlResponse:
    with store(request) as session:
        return YamlResponse(export_materialization(session, name))
