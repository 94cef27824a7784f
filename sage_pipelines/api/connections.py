"""`/connections`: a name over a database secret, its own database and schema; and the test that
connects for real and says which of host, port, credentials, database or TLS failed."""

from __future__ import annotations


from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from sage_pipelines.api.deps import home_of, permit, store
from sage_pipelines.api.schemas import UtcTime, described
from sage_pipelines.materialization.names import LABEL_RE
from sage_pipelines.services.auth import Principal
from sage_pipelines.services.connections import (CHECKS, add_connection, failed_check, get_connection,
                                                 list_connections, remove_connection, test_connection)
from sage_pipelines.store.models import DatabaseConnection

router = APIRouter(prefix="/connections", tags=["connections"])


class ConnectionFields(BaseModel):
    secret: str = Field(max_length=200, description="a database secret's name")
    database: str | None = Field(None, max_length=255, description="overrides the secret's database")
    schema_: str | None = Field(None, alias="schema", max_length=255,
                                description="default schema for tables without one")


class ConnectionIn(ConnectionFields):
    name: str = Field(max_length=200, **described(LABEL_RE))


class ConnectionOut(BaseModel):
    name: str
    secret: str
    type: str
    database: str | None = None
    schema_: str | None = Field(None, alias="schema")
    status: str
    last_test: UtcTime | None = None
    latency_ms: float | None = None
    message: str | None = Field(None, description="the last failed test's reason (admins)")


class ConnectionTest(BaseModel):
    ok: bool
    latency_ms: float | None = None
    failed: str | None = Field(None, description=f"which check failed: one of {', '.join(CHECKS)}, "
                                                 "timeout or connection; null when ok")
    message: str


def connection_view(conn: DatabaseConnection, principal: Principal) -> ConnectionOut:
    return ConnectionOut(name=conn.nombre, secret=conn.secret.nombre, type=conn.secret.tipo, database=conn.base_datos,
                         schema=conn.esquema, status=conn.estado_conexion, last_test=conn.ultimo_test,
                         latency_ms=conn.latencia_ms,
                         message=conn.mensaje_error if principal.can("secrets.read") else None)


@router.get("", response_model=list[ConnectionOut], summary="List connections")
def list_all(request: Request, principal: Principal = Depends(permit("read"))) -> list[ConnectionOut]:
    with store(request) as session:
        return [connection_view(c, principal) for c in list_connections(session)]


@router.post("", response_model=ConnectionOut, status_code=201, summary="Add a connection")
def create(body: ConnectionIn, request: Request,
           principal: Principal = Depends(permit("connections.write"))) -> ConnectionOut:
    with store(request) as session:
        conn = add_connection(session, body.name, body.secret, database=body.database, schema=body.schema_)
        return connection_view(conn, principal)


@router.get("/{name}", response_model=ConnectionOut, summary="Show a connection")
def show(name: str, request: Request, principal: Principal = Depends(permit("read"))) -> ConnectionOut:
    with store(request) as session:
        return connection_view(get_connection(session, name), principal)


@router.put("/{name}", response_model=ConnectionOut, summary="Change a connection")
def change(name: str, body: ConnectionFields, request: Request,
           principal: Principal = Depends(permit("connections.write"))) -> ConnectionOut:
    with store(request) as session:
        get_connection(session, name)
        conn = add_connection(session, name, body.secret, database=body.database, schema=body.schema_, replace=True)
        return connection_view(conn, principal)


@router.delete("/{name}", status_code=204, response_class=Response,
               summary="Remove a connection no materialization writes to")
def remove(name: str, request: Request, _: Principal = Depends(permit("connections.write"))) -> Response:
    with store(request) as session:
        remove_connection(session, name)
    return Response(status_code=204)


@router.post("/{name}/test", response_model=ConnectionTest,
             summary="Connect for real: latency, or which of host/port/credentials/database/TLS failed")
def test(name: str, request: Request, timeout: int = Query(10, ge=1, le=60, description="seconds to wait"),
         _: Principal = Depends(permit("connections.write"))) -> ConnectionTest:
    with store(request) as session:
        ok, latency, reason = test_connection(session, name, home=home_of(request), timeout=timeout)
    return ConnectionTest(ok=ok, latency_ms=latency, failed=failed_check(ok, reason), message=reason)
