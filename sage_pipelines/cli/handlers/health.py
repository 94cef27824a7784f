"""`sage servers status`: ping every server through its broker (loads Celery, so a module of its own)."""

from __future__ import annotations

import argparse

from sage_pipelines.cli.terminal import print_rows
from sage_pipelines.servers.health import refresh_status
from sage_pipelines.services.home import ready_home
from sage_pipelines.store.db import session_scope


def status(args: argparse.Namespace) -> int:
    """Ping every server through its broker now; store and print what was found."""
    with session_scope(ready_home()) as session:
        rows = []
        for server, probe in refresh_status(session, timeout=args.timeout):
            m = server.metricas
            rows.append((server.nombre, server.tipo, server.estado, ",".join(probe.nodes) or "-", probe.active,
                         probe.reserved, server.capacidad, m.get("steps_ok", 0), m.get("steps_failed", 0),
                         server.ultimo_heartbeat.isoformat(timespec="seconds") if server.ultimo_heartbeat else "-",
                         probe.error or ""))
    print_rows(("NAME", "TYPE", "STATE", "NODES", "ACTIVE", "RESERVED", "CAPACITY", "DONE", "FAILED",
                "LAST_HEARTBEAT", "ERROR"), rows)
    return 0
