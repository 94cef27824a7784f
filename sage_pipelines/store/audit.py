"""The audit log's rows: writing one, and reading them back filtered. Never holds secrets.

Who the actor is and what changed are decided above (`services.audit`, which every service
calls); this module only stores and queries what it is given.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.store.models import AuditLog


def record_audit(session: Session, accion: str, objeto: str, detalle: Mapping[str, Any] | None = None, *,
                 actor: str, origen: str | None = None, cliente: str | None = None,
                 antes: Mapping[str, Any] | None = None, despues: Mapping[str, Any] | None = None) -> AuditLog:
    """Add one row (`accion` e.g. `materialization.apply`, `objeto` e.g. `secret:pg`).

    Every mapping must be JSON-serializable and must never carry a password or a key. Texts longer
    than their columns (an object named by a long URL path) are cut to fit.
    """
    row = AuditLog(actor=actor[:200], accion=accion[:100], objeto=objeto[:400], detalle=dict(detalle or {}),
                   origen=origen, cliente=None if cliente is None else cliente[:200],
                   antes=None if antes is None else dict(antes),
                   despues=None if despues is None else dict(despues))
    session.add(row)
    session.flush()
    return row


def query_audit(session: Session, *, objeto: str | None = None, actor: str | None = None,
                since: dt.datetime | None = None, limit: int = 100) -> list[AuditLog]:
    """Rows newest first. `objeto` matches the whole object (`secret:pg`) or its name after the
    kind (`pg`); `since` is naive UTC like the stored times."""
    query = select(AuditLog)
    if objeto:
        query = query.where((AuditLog.objeto == objeto) | AuditLog.objeto.endswith(f":{objeto}", autoescape=True))
    if actor:
        query = query.where(AuditLog.actor == actor)
    if since is not None:
        query = query.where(AuditLog.momento >= since)
    return list(session.scalars(query.order_by(AuditLog.id.desc()).limit(limit)))
