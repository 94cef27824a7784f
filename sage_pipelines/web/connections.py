"""Secrets and connections: add, edit, test (the outcome stays on the connection's row), remove.

Each form calls the service function the CLI calls (`services.secrets`, `services.connections`);
a password goes from the form field straight into `add_secret`, which encrypts it, and is never
rendered back (an edit with the field left blank keeps the stored one).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from sage_pipelines.errors import SageError
from sage_pipelines.services.connections import (add_connection, get_connection, list_connections, remove_connection,
                                                 test_connection)
from sage_pipelines.services.secrets import (DATABASE_TYPES, SECRET_TYPES, add_secret, describe_secret, get_secret,
                                             list_secrets, remove_secret)
from sage_pipelines.web.forms import field_for, integer, options, text
from sage_pipelines.web.render import render
from sage_pipelines.web.session import Console, call, page, redirect

router = APIRouter()

SECRET_FIELDS = ("name", "type", "host", "port", "user", "database", "password", "options")
SECRET_RULES = (("secret name", "name"), ("already exists", "name"), ("type .* is not one of", "type"),
                ("port", "port"), ("option", "options"))
# The connection form's fields are prefixed: its page also holds the secret form.
CONNECTION_FIELDS = ("conn_name", "conn_secret", "conn_database", "conn_schema")
CONNECTION_RULES = (("unknown secret|secret .* is of type", "conn_secret"), ("already exists|invalid name", "conn_name"))


def _overview(session: Session, full_secrets: bool) -> dict[str, Any]:
    """Secrets (viewers see only name and type) and connections with their last test."""
    secrets = [describe_secret(s) if full_secrets else {"name": s.nombre, "type": s.tipo}
               for s in list_secrets(session)]
    connections = [{"name": c.nombre, "secret": c.secret.nombre, "kind": c.secret.tipo,
                    "database": c.base_datos or c.secret.basedatos, "schema": c.esquema,
                    "state": c.estado_conexion, "latency": c.latencia_ms, "tested": c.ultimo_test,
                    "error": c.mensaje_error} for c in list_connections(session)]
    return {"secrets": secrets, "connections": connections,
            "database_secrets": [s["name"] for s in secrets if s["type"] in DATABASE_TYPES]}


async def _page(request: Request, c: Console, status: int = 200, **context: Any) -> Response:
    data = await call(c, _overview, c.can("secrets.read"))
    return render(request, "connections.html", c, {
        "secret_types": SECRET_TYPES, "secret_form": {}, "connection_form": {}, **data, **context}, status=status)


@router.get("/connections")
@page("read")
async def connections_page(request: Request) -> Response:
    return await _page(request, request.state.console)


# --------------------------------------------------------------------------- secrets

def _save_secret(session: Session, form: Any, name: str | None, c: Console) -> None:
    add_secret(session, name or text(form, "name") or "", text(form, "type") or "",
               host=text(form, "host"), port=integer(form, "port", "port"), user=text(form, "user"),
               database=text(form, "database"), password=form.get("password") or None,
               options=options(form, "options"), home=c.home, replace=name is not None,
               keep_password=name is not None)


@router.post("/secrets")
@page("secrets.write", form=True)
async def add_secret_form(request: Request) -> Response:
    c, form = request.state.console, request.state.form
    try:
        await call(c, _save_secret, form, None, c)
    except SageError as exc:
        c.errors[field_for(exc, SECRET_RULES, SECRET_FIELDS)] = str(exc)
        return await _page(request, c, status=400, secret_form=_echo(form, SECRET_FIELDS))
    c.tell(f"secret {text(form, 'name')} saved")
    return redirect("/connections", c, request)


@router.get("/secrets/{name}/edit")
@page("secrets.write")
async def edit_secret_page(request: Request, name: str) -> Response:
    c = request.state.console
    try:
        info = await call(c, lambda s: describe_secret(get_secret(s, name)))
    except SageError as exc:
        c.errors["_form"] = str(exc)
        return await _page(request, c, status=404)
    form = {k: info.get(k) for k in ("name", "type", "host", "port", "user", "database")}
    form["options"] = "\n".join(f"{k}={v}" for k, v in sorted(info["options"].items()))
    return render(request, "secret_edit.html", c, {"form": form, "secret_types": SECRET_TYPES,
                                                   "has_password": info.get("password") is not None})


@router.post("/secrets/{name}")
@page("secrets.write", form=True)
async def edit_secret_form(request: Request, name: str) -> Response:
    c, form = request.state.console, request.state.form
    try:
        await call(c, _save_secret, form, name, c)
    except SageError as exc:
        c.errors[field_for(exc, SECRET_RULES, SECRET_FIELDS)] = str(exc)
        echo = {**_echo(form, SECRET_FIELDS), "name": name}
        return render(request, "secret_edit.html", c, {"form": echo, "secret_types": SECRET_TYPES,
                                                       "has_password": True}, status=400)
    c.tell(f"secret {name} saved")
    return redirect("/connections", c, request)


@router.post("/secrets/{name}/remove")
@page("secrets.write", form=True)
async def remove_secret_form(request: Request, name: str) -> Response:
    c = request.state.console
    try:
        await call(c, remove_secret, name)
    except SageError as exc:
        c.errors[f"secret:{name}"] = str(exc)  # "in use by connection X": shown on the secret's row
        return await _page(request, c, status=409)
    c.tell(f"secret {name} removed")
    return redirect("/connections", c, request)


# --------------------------------------------------------------------------- connections

def _save_connection(session: Session, form: Any, name: str | None) -> None:
    add_connection(session, name or text(form, "conn_name") or "", text(form, "conn_secret") or "",
                   text(form, "conn_database"), text(form, "conn_schema"), replace=name is not None)


@router.post("/connections")
@page("connections.write", form=True)
async def add_connection_form(request: Request) -> Response:
    c, form = request.state.console, request.state.form
    try:
        await call(c, _save_connection, form, None)
    except SageError as exc:
        c.errors[field_for(exc, CONNECTION_RULES, CONNECTION_FIELDS)] = str(exc)
        return await _page(request, c, status=400, connection_form=_echo(form, CONNECTION_FIELDS))
    c.tell(f"connection {text(form, 'conn_name')} saved; test it to check it can be reached")
    return redirect("/connections", c, request)


@router.get("/connections/{name}/edit")
@page("connections.write")
async def edit_connection_page(request: Request, name: str) -> Response:
    c = request.state.console
    try:
        form = await call(c, lambda s: _connection_form(get_connection(s, name)))
        data = await call(c, _overview, True)
    except SageError as exc:
        c.errors["_form"] = str(exc)
        return await _page(request, c, status=404)
    return render(request, "connection_edit.html", c, {"form": form, **data})


def _connection_form(conn: Any) -> dict[str, Any]:
    return {"conn_name": conn.nombre, "conn_secret": conn.secret.nombre, "conn_database": conn.base_datos,
            "conn_schema": conn.esquema}


@router.post("/connections/{name}")
@page("connections.write", form=True)
async def edit_connection_form(request: Request, name: str) -> Response:
    c, form = request.state.console, request.state.form
    try:
        await call(c, _save_connection, form, name)
    except SageError as exc:
        c.errors[field_for(exc, CONNECTION_RULES, CONNECTION_FIELDS)] = str(exc)
        data = await call(c, _overview, True)
        return render(request, "connection_edit.html", c,
                      {"form": {**_echo(form, CONNECTION_FIELDS), "conn_name": name}, **data}, status=400)
    c.tell(f"connection {name} saved; test it to check it can be reached")
    return redirect("/connections", c, request)


@router.post("/connections/{name}/test")
@page("connections.write", form=True)
async def test_connection_form(request: Request, name: str) -> Response:
    """Connects for real; the outcome (ok + latency, or what failed) is stored on the row and
    shown in the table, and as the page's notice."""
    c = request.state.console
    try:
        ok, latency, reason = await call(c, test_connection, name, home=c.home)
    except SageError as exc:
        c.errors[f"connection:{name}"] = str(exc)
        return await _page(request, c, status=400)
    if ok:
        c.tell(f"connection {name}: ok in {latency:.1f} ms")
    else:
        c.errors[f"connection:{name}"] = f"connection {name} failed: {reason}"
        return await _page(request, c, status=200)
    return redirect("/connections", c, request)


@router.post("/connections/{name}/remove")
@page("connections.write", form=True)
async def remove_connection_form(request: Request, name: str) -> Response:
    c = request.state.console
    try:
        await call(c, remove_connection, name)
    except SageError as exc:
        c.errors[f"connection:{name}"] = str(exc)  # "used by materialization X": shown on its row
        return await _page(request, c, status=409)
    c.tell(f"connection {name} removed")
    return redirect("/connections", c, request)


def _echo(form: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """What the user typed, to put back into the form beside the error (never the password)."""
    return {f: form.get(f) for f in fields if f != "password"}
