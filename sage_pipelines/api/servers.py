"""`/servers`: materialization servers (local, and remote Celery workers on a broker) and their
live status. A broker password is write-only, as a secret's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from sage_pipelines.api.deps import home_of, permit, store
from sage_pipelines.api.schemas import UtcTime, described
from sage_pipelines.servers.health import refresh_status
from sage_pipelines.servers.instance import sync_instance_limits
from sage_pipelines.services.auth import Principal
from sage_pipelines.services.servers import (SERVER_NAME, SERVER_TYPES, add_server, display_endpoint, get_server,
                                             list_servers, remove_server)
from sage_pipelines.store.models import MaterializationServer

router = APIRouter(prefix="/servers", tags=["servers"])
INT32 = 2 ** 31  # the store's integer columns


class ServerFields(BaseModel):
    type: str = Field("remote", max_length=30, description=f"one of {', '.join(SERVER_TYPES[1:])}",
                      **described(enum=SERVER_TYPES[1:]))
    endpoint: str = Field(max_length=2000, description="broker URL, e.g. redis://host:6379/0; a password in it "
                                                       "is stored encrypted")
    capacity: int = Field(1, ge=-INT32, le=INT32 - 1, description="worker concurrency (steps at once)")
    priority: int = Field(0, ge=-INT32, le=INT32 - 1, description="higher is preferred by the balancer")
    password: str | None = Field(None, description="write-only: the broker's password",
                                 json_schema_extra={"writeOnly": True})


class ServerIn(ServerFields):
    name: str = Field(max_length=100, **described(SERVER_NAME))


class ServerOut(BaseModel):
    name: str
    type: str
    endpoint: str = Field(description="the broker URL, `***` where its password goes")
    capacity: int
    priority: int
    state: str
    last_heartbeat: UtcTime | None = None


class ServerStatus(ServerOut):
    nodes: list[str]
    active: int
    reserved: int
    steps_ok: int
    steps_failed: int
    error: str | None = None


def server_view(server: MaterializationServer) -> ServerOut:
    return ServerOut(name=server.nombre, type=server.tipo, endpoint=display_endpoint(server),
                     capacity=server.capacidad, priority=server.prioridad, state=server.estado,
                     last_heartbeat=server.ultimo_heartbeat)


@router.get("", response_model=list[ServerOut], summary="List servers as last seen")
def list_all(request: Request, _: Principal = Depends(permit("read"))) -> list[ServerOut]:
    with store(request) as session:
        return [server_view(s) for s in list_servers(session)]


@router.get("/status", response_model=list[ServerStatus], summary="Ping every server through its broker now")
def status(request: Request, timeout: float = Query(1.0, ge=0.1, le=10.0, description="seconds to wait for replies"),
           _: Principal = Depends(permit("read"))) -> list[ServerStatus]:
    with store(request) as session:
        out = []
        for server, probe in refresh_status(session, home_of(request), timeout=timeout):
            metrics: dict[str, Any] = server.metricas or {}
            out.append(ServerStatus(**server_view(server).model_dump(), nodes=list(probe.nodes), active=probe.active,
                                    reserved=probe.reserved, steps_ok=int(metrics.get("steps_ok", 0)),
                                    steps_failed=int(metrics.get("steps_failed", 0)), error=probe.error))
        return out


def _save(request: Request, name: str, body: ServerFields, replace: bool) -> ServerOut:
    home = home_of(request)
    with store(request) as session:
        if replace:
            get_server(session, name)
        view = server_view(add_server(session, name, body.type, body.endpoint, body.capacity, body.priority,
                                      password=body.password, home=home, replace=replace))
    sync_instance_limits(home)  # the run queue's per-server limits, once the change has committed
    return view


@router.post("", response_model=ServerOut, status_code=201, summary="Add a remote server")
def create(body: ServerIn, request: Request, _: Principal = Depends(permit("servers.write"))) -> ServerOut:
    return _save(request, body.name, body, replace=False)


@router.get("/{name}", response_model=ServerOut, summary="Show a server")
def show(name: str, request: Request, _: Principal = Depends(permit("read"))) -> ServerOut:
    with store(request) as session:
        return server_view(get_server(session, name))


@router.put("/{name}", response_model=ServerOut, summary="Change a server")
def change(name: str, body: ServerFields, request: Request, _: Principal = Depends(permit("servers.write"))) -> ServerOut:
    return _save(request, name, body, replace=True)


@router.delete("/{name}", status_code=204, response_class=Response,
               summary="Remove a server no materialization pins (its history stays)")
def remove(name: str, request: Request, _: Principal = Depends(permit("servers.write"))) -> Response:
    home = home_of(request)
    with store(request) as session:
        remove_server(session, name)
    sync_instance_limits(home)
    return Response(status_code=204)
