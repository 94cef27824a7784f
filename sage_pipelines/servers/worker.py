"""`sage worker NAME`: run remote server NAME's Celery worker on this machine.

The worker consumes the queue named after the server on the server's broker, with concurrency =
the server's capacity, and runs dagster-celery's `execute_plan` task: each step rebuilds the
casilla's job from the shared metadata store (`SAGE_STORE_URL`) and records its events in the
run's Dagster instance (shared storage: dagster-postgres across machines). The broker password
is decrypted here, in memory; it is not on the command line, in the process list or in a config
file. While it runs, the worker stamps `ultimo_heartbeat` / `estado` on its server's row.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from sage_pipelines.errors import ConfigError
from sage_pipelines.materialization.model import LOCAL_SERVER
from sage_pipelines.servers.celery_app import server_app
from sage_pipelines.servers.instance import ensure_dagster_home
from sage_pipelines.services.servers import broker_url, get_server
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import engine_for, session_scope
from sage_pipelines.store.models import MaterializationServer, utcnow
from sage_pipelines.store.states import ServerStatus

HEARTBEAT_SECONDS = float(os.environ.get("SAGE_WORKER_HEARTBEAT_SECONDS", "10"))


def _stamp(home: SageHome, server: str, estado: str, extra: dict[str, Any]) -> None:
    """Write the worker's state on its server row, on an engine of its own (no pooled connection
    is ever shared with the pool processes the worker forks)."""
    engine = create_engine(home.store_url, poolclass=NullPool)
    try:
        with Session(engine) as session, session.begin():
            row = session.scalar(select(MaterializationServer).where(MaterializationServer.nombre == server))
            if row is not None:
                row.estado = estado
                if estado == ServerStatus.ONLINE:
                    row.ultimo_heartbeat = utcnow()
                row.metricas = {**(row.metricas or {}), "worker": extra}
    finally:
        engine.dispose()


class Heartbeat(threading.Thread):
    def __init__(self, home: SageHome, server: str, extra: dict[str, Any], every: float = HEARTBEAT_SECONDS) -> None:
        super().__init__(name=f"sage-heartbeat-{server}", daemon=True)
        self.home, self.server, self.extra, self.every = home, server, extra, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                _stamp(self.home, self.server, ServerStatus.ONLINE, self.extra)
            except Exception:  # a store hiccup must not kill the worker
                pass
            self.stopped.wait(self.every)

    def stop(self) -> None:
        self.stopped.set()
        try:
            _stamp(self.home, self.server, ServerStatus.STOPPED, self.extra)
        except Exception:
            pass


def worker_argv(server: str, capacity: int, loglevel: str = "INFO") -> list[str]:
    return ["worker", "-Q", server, "-c", str(capacity), "-n", f"{server}@%h", "--prefetch-multiplier=1",
            "--without-gossip", "--without-mingle", "-l", loglevel]


def run_worker(name: str, home: SageHome | None = None, loglevel: str = "INFO") -> None:
    """Block running server `name`'s worker until it is stopped (SIGTERM / Ctrl-C)."""
    from celery import signals

    home = home or SageHome.from_env()
    with session_scope(home) as session:
        server = get_server(session, name)
        if server.tipo == LOCAL_SERVER:
            raise ConfigError("server 'local' runs inside each Dagster run; it has no worker to start")
        url, capacity = broker_url(session, server, home=home), server.capacidad
    ensure_dagster_home(home)
    engine_for(home.store_url).dispose()  # the pool processes open their own connections
    app = server_app(name, url)
    extra = {"host": socket.gethostname(), "pid": os.getpid(), "node": f"{name}@{socket.gethostname()}",
             "concurrency": capacity}
    heartbeat = Heartbeat(home, name, extra)

    @signals.worker_ready.connect(weak=False)
    def _ready(**_: Any) -> None:
        heartbeat.start()

    @signals.worker_shutdown.connect(weak=False)
    def _shutdown(**_: Any) -> None:
        heartbeat.stop()

    app.worker_main(worker_argv(name, capacity, loglevel))
