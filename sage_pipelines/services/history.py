"""Materialization history as users read it: newest rows first, each with its server's name.

Rows are written by the IO managers (`store.history.record_history`); reading them adds one
rule: asking for a casilla that is not registered is a mistake (probably a misspelling), not an
empty history.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.materialization.casillas import get_casilla
from sage_pipelines.store.history import list_history
from sage_pipelines.store.models import MaterializationHistory, MaterializationServer

RECONCILE = "rows_reconcile"  # the check comparing the upload's rows with the rows written


def history(session: Session, casilla: str | None = None, limit: int = 50,
            upload_id: str | None = None) -> list[tuple[MaterializationHistory, str | None]]:
    """(row, server name) pairs, newest first, optionally of one casilla (and one of its uploads).
    The server's name is the one the row recorded, else the name of the server its id still points at."""
    servers = dict(session.execute(select(MaterializationServer.id, MaterializationServer.nombre)).all())
    rows = [(h, h.servidor or servers.get(h.servidor_id))
            for h in list_history(session, casilla, limit, upload_id=upload_id)]
    if casilla and not rows:
        get_casilla(session, casilla)  # a misspelt casilla is a mistake, not an empty history
    return rows


def checks_summary(outcomes: Sequence[dict[str, Any]] | None) -> str | None:
    """One line for `sage history`: `5/5 passed`, or which failed, with the first offender."""
    if not outcomes:
        return None
    failed = [o for o in outcomes if not o["passed"]]
    if not failed:
        return f"{len(outcomes)}/{len(outcomes)} passed"
    parts = []
    for o in failed:
        first = o["samples"][0] if o["samples"] else None
        shown = (" e.g. " + ", ".join(f"{k}={v}" for k, v in first.items())) if first else ""
        if o["name"] == RECONCILE:
            shown = f" ({o['rows_in_upload']} in upload, {o['written']} written)"
        parts.append(f"{o['name']} failed: {o['count']}{shown}")
    return "; ".join(parts)
