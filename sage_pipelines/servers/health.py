"""Health and metrics of servers: a real ping through the broker, and figures from history.

`probe` asks the workers of one server (Celery nodes named `<server>@<host>`) for their active
and reserved tasks; a server is online when at least one of its nodes answers. `refresh_status`
stores the figures on the server's row (`estado`, `ultimo_heartbeat`, `metricas`), which is what
the balancer reads when it must decide without pinging (in a sensor tick).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sage_pipelines.materialization.model import LOCAL_SERVER
from sage_pipelines.security import redact
from sage_pipelines.servers.balancer import ServerState
from sage_pipelines.servers.celery_app import check_broker, server_app
from sage_pipelines.services.servers import broker_url, list_servers
from sage_pipelines.settings import SageHome
from sage_pipelines.store.models import MaterializationHistory, MaterializationServer, utcnow
from sage_pipelines.store.states import HistoryStatus, ServerStatus

PING_TIMEOUT = 1.0


@dataclass
class Probe:
    online: bool
    nodes: list[str] = field(default_factory=list)
    active: int = 0
    reserved: int = 0
    active_tasks: dict[str, list[str]] = field(default_factory=dict)  # node -> task ids
    error: str | None = None

    @property
    def estado(self) -> str:
        return ServerStatus.ONLINE if self.online else (ServerStatus.BROKER_DOWN if self.error else ServerStatus.OFFLINE)


def is_node_of(node: str, server: str) -> bool:
    return node.split("@", 1)[0] == server


def probe_app(app: Any, server: str, timeout: float = PING_TIMEOUT) -> Probe:
    """Ping `server`'s workers through `app`'s broker (active + reserved tasks per node)."""
    try:
        check_broker(app, timeout=max(timeout, 2.0))
        inspector = app.control.inspect(timeout=timeout)
        active = {n: t for n, t in (inspector.active() or {}).items() if is_node_of(n, server)}
        reserved = {n: t for n, t in (inspector.reserved() or {}).items() if is_node_of(n, server)}
    except Exception as exc:  # the broker is down or refused us: say so, without the URL's password
        return Probe(online=False, error=f"broker unreachable: {redact(str(exc))}")
    nodes = sorted(set(active) | set(reserved))
    return Probe(online=bool(nodes), nodes=nodes, active=sum(len(t) for t in active.values()),
                 reserved=sum(len(t) for t in reserved.values()),
                 active_tasks={n: [t.get("id") for t in tasks] for n, tasks in active.items()})


def probe_server(session: Session, server: MaterializationServer, home: SageHome | None = None,
                 timeout: float = PING_TIMEOUT) -> Probe:
    if server.tipo == LOCAL_SERVER:
        return Probe(online=True, nodes=["(in-process)"])
    app = server_app(server.nombre, broker_url(session, server, home=home))
    try:
        return probe_app(app, server.nombre, timeout)
    finally:
        app.close()


def step_counts(session: Session) -> dict[int, dict[str, int]]:
    """Steps done and failed per server id, from `materialization_history`."""
    rows = session.execute(select(MaterializationHistory.servidor_id, MaterializationHistory.estado,
                                  func.count()).group_by(MaterializationHistory.servidor_id,
                                                         MaterializationHistory.estado))
    counts: dict[int, dict[str, int]] = {}
    for server_id, estado, n in rows:
        if server_id is not None:
            counts.setdefault(server_id, {})["ok" if estado == HistoryStatus.SUCCEEDED else "failed"] = n
    return counts


def refresh_status(session: Session, home: SageHome | None = None,
                   timeout: float = PING_TIMEOUT) -> list[tuple[MaterializationServer, Probe]]:
    """Ping every server now and store what was found on its row. Returns (row, probe) pairs."""
    counts = step_counts(session)
    out = []
    now = utcnow()
    for server in list_servers(session):
        probe = probe_server(session, server, home, timeout)
        done = counts.get(server.id, {})
        server.estado = probe.estado
        if probe.online:
            server.ultimo_heartbeat = now
        server.metricas = {**(server.metricas or {}), **{
            "nodes": probe.nodes, "active": probe.active, "reserved": probe.reserved,
            "capacity": server.capacidad, "steps_ok": done.get("ok", 0), "steps_failed": done.get("failed", 0),
            "checked_at": now.isoformat(timespec="seconds"), "error": probe.error}}
        out.append((server, probe))
    session.flush()
    return out


def stored_states(session: Session, max_age_seconds: float = 120.0) -> list[ServerState]:
    """The balancer's view from the store: a remote server counts as online only when its last
    check (or worker heartbeat) said so within `max_age_seconds`."""
    now = utcnow()
    states = []
    for s in list_servers(session):
        m = s.metricas or {}
        fresh = s.ultimo_heartbeat is not None and (now - s.ultimo_heartbeat) <= dt.timedelta(seconds=max_age_seconds)
        online = s.tipo == LOCAL_SERVER or (s.estado == ServerStatus.ONLINE and fresh)
        states.append(ServerState(name=s.nombre, kind=s.tipo, online=online, capacity=s.capacidad,
                                  priority=s.prioridad, running=int(m.get("active", 0) or 0),
                                  queued=int(m.get("reserved", 0) or 0)))
    return states


def live_states(session: Session, home: SageHome | None = None) -> list[ServerState]:
    """The balancer's view after pinging every server now (and storing the result)."""
    refresh_status(session, home)
    return stored_states(session)


def as_dict(probe: Probe) -> dict[str, Any]:
    return asdict(probe)
