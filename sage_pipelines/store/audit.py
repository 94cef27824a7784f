"""The audit trail: who did what to which object. `detalle` never holds a secret."""

from __future__ import annotations

import getpass
from typing import Any

from sqlalchemy.orm import Session

from sage_pipelines.store.models import AuditLog


def current_actor() -> str:
    """`cli:<os user>`: the best identity a command line has."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment (e.g. a container without passwd)
        return "cli"


def audit(session: Session, accion: str, objeto: str, *, actor: str | None = None, **detalle: Any) -> AuditLog:
    """Add one `audit_log` row in `session`, committed with the action it describes.

    `detalle` must be JSON-serialisable and must never hold a secret.
    """
    row = AuditLog(accion=accion, objeto=objeto, detalle=detalle, actor=actor or current_actor())
    session.add(row)
    return row
