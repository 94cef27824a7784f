"""`sage history [CASILLA] [--limit N]`: the newest MATERIALIZATION_HISTORY rows."""

from __future__ import annotations

import argparse

from sage_pipelines.cli.terminal import print_rows
from sage_pipelines.services.history import checks_summary, history as history_rows
from sage_pipelines.services.home import ready_home
from sage_pipelines.store.db import session_scope

HEADERS = ("TIME", "CASILLA", "TABLE", "DESTINATION", "UPLOAD", "STRATEGY", "STATUS", "ROWS", "INSERTED",
           "UPDATED", "DELETED", "SECONDS", "SERVER", "CHECKS", "ERROR")


def history(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(h.iniciado_en.isoformat(timespec="seconds"), h.casilla, h.tabla, h.destino, h.upload_id,
                 h.estrategia, h.estado, h.filas, h.insertadas, h.actualizadas, h.eliminadas,
                 f"{h.segundos:.2f}", server, checks_summary(h.comprobaciones), (h.error or "").splitlines()[0][:120] if h.error else None)
                for h, server in history_rows(session, args.casilla, args.limit)]
    print_rows(HEADERS, rows)
    return 0
