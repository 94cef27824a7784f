"""Lakes and servers: where tables can land besides databases, and where steps run.

Lakes: add, edit or remove (`services.lakes`). Servers: add and remove (`services.servers`),
then the Dagster instance's run-queue limits are re-written as `sage servers add/remove` does;
the page pings every server through its broker as it loads (`servers.health.refresh_status`),
so the state shown is live.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from sage_pipelines.destinations.registry import LAKE_FORMATS
from sage_pipelines.errors import SageError
from sage_pipelines.servers.health import refresh_status
from sage_pipelines.servers.instance import sync_instance_limits
from sage_pipelines.services.lakes import add_lake, get_lake, list_lakes, remove_lake
from sage_pipelines.services.secrets import list_secrets
from sage_pipelines.services.servers import SERVER_TYPES, add_server, display_endpoint, remove_server
from sage_pipelines.web.forms import field_for, integer, options, text
from sage_pipelines.web.render import render
from sage_pipelines.web.session import Console, call, page, redirect

router = APIRouter()

LAKE_FIELDS = ("name", "warehouse", "catalog_uri", "secret", "options")
LAKE_RULES = (("--warehouse", "warehouse"), ("--catalog-uri", "catalog_uri"), ("secret", "secret"),
              ("already exists", "name"), ("option", "options"))
SERVER_FIELDS = ("name", "type", "endpoint", "capacity", "priority", "password")
SERVER_RULES = (("server name|already exists|always exists", "name"), ("type", "type"), ("capacity", "capacity"),
                ("priority", "priority"), ("endpoint|broker URL", "endpoint"))
STATUS_TIMEOUT = 0.5  # seconds per server a page load waits for worker replies


# --------------------------------------------------------------------------- lakes

def _lakes(session: Session) -> dict[str, Any]:
    lakes = [{"name": x.nombre, "warehouse": x.warehouse, "catalog_uri": x.catalog_uri,
              "secret": x.secret.nombre if x.secret else None, "options": dict(x.opciones or {})}
             for x in list_lakes(session)]
    return {"lakes": lakes, "s3_secrets": [s.nombre for s in list_secrets(session) if s.tipo == "s3"]}


async def _lakes_page(request: Request, c: Console, form: dict | None = None, status: int = 200,
                      editing: str | None = None) -> Response:
    data = await call(c, _lakes)
    return render(request, "lakes.html", c, {**data, "form": form or {}, "editing": editing,
                                             "formats": LAKE_FORMATS}, status=status)


@router.get("/lakes")
@page("read")
async def lakes_page(request: Request, edit: str | None = None) -> Response:
    c = request.state.console
    form = None
    if edit:
        try:
            form = await call(c, lambda s: _lake_form(get_lake(s, edit)))
        except SageError as exc:
            c.errors["_form"] = str(exc)
            edit = None
    return await _lakes_page(request, c, form, editing=edit)


def _lake_form(lake: Any) -> dict[str, Any]:
    return {"name": lake.nombre, "warehouse": lake.warehouse, "catalog_uri": lake.catalog_uri,
            "secret": lake.secret.nombre if lake.secret else "",
            "options": "\n".join(f"{k}={v}" for k, v in sorted((lake.opciones or {}).items()))}


@router.post("/lakes")
@page("lakes.write", form=True)
async def save_lake_form(request: Request) -> Response:
    c, form = request.state.console, request.state.form
    editing = text(form, "editing")
    name = editing or text(form, "name") or ""
    try:
        await call(c, lambda s: add_lake(s, name, text(form, "warehouse") or "", text(form, "catalog_uri"),
                                         text(form, "secret"), options(form, "options"), replace=bool(editing)))
    except SageError as exc:
        c.errors[field_for(exc, LAKE_RULES, LAKE_FIELDS)] = str(exc)
        echo = {f: form.get(f) for f in LAKE_FIELDS}
        return await _lakes_page(request, c, {**echo, "name": name}, status=400, editing=editing)
    c.tell(f"lake {name} saved")
    return redirect("/lakes", c, request)


@router.post("/lakes/{name}/remove")
@page("lakes.write", form=True)
async def remove_lake_form(request: Request, name: str) -> Response:
    c = request.state.console
    try:
        await call(c, remove_lake, name)
    except SageError as exc:
        c.errors[f"lake:{name}"] = str(exc)
        return await _lakes_page(request, c, status=409)
    c.tell(f"lake {name} removed")
    return redirect("/lakes", c, request)


# --------------------------------------------------------------------------- servers

def _servers(session: Session, home: Any) -> list[dict[str, Any]]:
    """Every server after pinging it now (the local one needs no ping)."""
    rows = []
    for server, probe in refresh_status(session, home, timeout=STATUS_TIMEOUT):
        m = server.metricas or {}
        rows.append({"name": server.nombre, "type": server.tipo, "endpoint": display_endpoint(server),
                     "capacity": server.capacidad, "priority": server.prioridad, "state": server.estado,
                     "nodes": probe.nodes, "active": probe.active, "reserved": probe.reserved,
                     "done": m.get("steps_ok", 0), "failed": m.get("steps_failed", 0),
                     "heartbeat": server.ultimo_heartbeat, "error": probe.error})
    return rows


async def _servers_page(request: Request, c: Console, form: dict | None = None, status: int = 200) -> Response:
    rows = await call(c, _servers, c.home)
    return render(request, "servers.html", c, {"servers": rows, "form": form or {},
                                               "types": [t for t in SERVER_TYPES if t != "local"]}, status=status)


@router.get("/servers")
@page("read")
async def servers_page(request: Request) -> Response:
    return await _servers_page(request, request.state.console)


@router.post("/servers")
@page("servers.write", form=True)
async def add_server_form(request: Request) -> Response:
    c, form = request.state.console, request.state.form
    name = text(form, "name") or ""
    try:
        await call(c, lambda s: add_server(
            s, name, text(form, "type") or "remote", text(form, "endpoint"),
            integer(form, "capacity", "capacity", 1), integer(form, "priority", "priority", 0),
            password=form.get("password") or None, home=c.home))
    except SageError as exc:
        c.errors[field_for(exc, SERVER_RULES, SERVER_FIELDS)] = str(exc)
        return await _servers_page(request, c, {f: form.get(f) for f in SERVER_FIELDS if f != "password"}, 400)
    sync_instance_limits(c.home)
    c.tell(f"server {name} saved; start its worker with `sage worker {name}`")
    return redirect("/servers", c, request)


@router.post("/servers/{name}/remove")
@page("servers.write", form=True)
async def remove_server_form(request: Request, name: str) -> Response:
    c = request.state.console
    try:
        await call(c, remove_server, name)
    except SageError as exc:
        c.errors[f"server:{name}"] = str(exc)
        return await _servers_page(request, c, status=409)
    sync_instance_limits(c.home)
    c.tell(f"server {name} removed")
    return redirect("/servers", c, request)
