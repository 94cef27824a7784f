"""Materialization history as users read it: newest rows first, each with its server's name.

Rows are written by the IO managers (`store.history.record_history`); reading them adds one
rule: asking for a casilla that is not registered is a mistake (probably a misspelling), not an
empty history.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.materialization.casillas import get_casilla
from sage_pipelines.store.history import list_history
from sage_pipelines.store.models import MaterializationHistory, MaterializationServer


def history(session: Session, casilla: str | None = None,
            limit: int = 50) -> list[tuple[MaterializationHistory, str | None]]:
    """(row, server name) pairs, newest first, optionally of one casilla. The server's name is the
    one the row recorded, else the name of the server its id still points at."""
    servers = dict(session.execute(select(MaterializationServer.id, MaterializationServer.nombre)).all())
    rows = [(h, h.servidor or servers.get(h.servidor_id)) for h in list_history(session, casilla, limit)]
    if casilla and not rows:
        get_casilla(session, casilla)  # a misspelt casilla is a mistake, not an empty history
    return rows
