"""The audit log: who changed what in the store, and when. Never holds secrets."""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy.orm import Session

from sage_pipelines.store.models import AuditLog


def record_audit(session: Session, accion: str, objeto: str, detalle: Mapping[str, Any] | None = None,
                 actor: str = "cli") -> AuditLog:
    """Record one change (`accion` e.g. `materialization.apply`, `objeto` e.g. its name).

    `detalle` must be JSON-serializable and must never carry a password or a key.
    """
    row = AuditLog(actor=actor, accion=accion, objeto=objeto, detalle=dict(detalle or {}))
    session.add(row)
    session.flush()
    return row


def audit(session: Session, accion: str, objeto: str, **detalle: Any) -> AuditLog:
    """`record_audit` with the details as keywords: `audit(s, "casilla.add", name, source=...)`."""
    return record_audit(session, accion, objeto, detalle)
