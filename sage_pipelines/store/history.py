"""MATERIALIZATION_HISTORY: one row per table, destination and upload written (or failed)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.store.models import MaterializationHistory

_FIELDS = frozenset(c.key for c in MaterializationHistory.__table__.columns) - {"id"}


def record_history(session: Session, **fields: Any) -> MaterializationHistory:
    """Add one history row; `fields` are the table's column names (casilla, tabla, destino,
    upload_id, estado, estrategia, filas, insertadas, ..., error)."""
    unknown = sorted(set(fields) - _FIELDS)
    if unknown:
        raise TypeError(f"record_history: unknown field(s) {', '.join(unknown)} "
                        f"(known: {', '.join(sorted(_FIELDS))})")
    row = MaterializationHistory(**fields)
    session.add(row)
    session.flush()
    return row


def list_history(session: Session, casilla: str | None = None, limit: int = 50,
                 upload_id: str | None = None) -> list[MaterializationHistory]:
    """The newest rows first, optionally of one casilla and of one upload."""
    query = select(MaterializationHistory)
    if casilla is not None:
        query = query.where(MaterializationHistory.casilla == casilla)
    if upload_id is not None:
        query = query.where(MaterializationHistory.upload_id == upload_id)
    query = query.order_by(MaterializationHistory.iniciado_en.desc(), MaterializationHistory.id.desc())
    return list(session.scalars(query.limit(limit)))


def run_history_row(session: Session, run_id: str, tabla_id: int | None,
                    destino_id: int | None) -> MaterializationHistory | None:
    """The newest row a run wrote for one table and destination (its asset reads its checks back)."""
    return session.scalar(select(MaterializationHistory)
                          .where(MaterializationHistory.dagster_run_id == run_id,
                                 MaterializationHistory.tabla_id == tabla_id,
                                 MaterializationHistory.destino_id == destino_id)
                          .order_by(MaterializationHistory.id.desc()).limit(1))
