"""Materializations: applying a YAML, exporting it back, listing them.

`apply_materialization` loads the YAML (`materialization.loader`), validates it against the
casilla and the store (`materialization.validate`) and only then writes it
(`materialization.persist`) and audits the change, all in the caller's transaction: an invalid
YAML writes nothing. `export_materialization` prints the canonical YAML, which `apply` takes
back unchanged.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.errors import ConfigError
from sage_pipelines.materialization.export import dump_spec
from sage_pipelines.materialization.loader import load_spec
from sage_pipelines.materialization.persist import save_spec, spec_from_row
from sage_pipelines.materialization.validate import validate_spec
from sage_pipelines.store.audit import audit
from sage_pipelines.store.models import Materialization


def apply_materialization(session: Session, yaml_text: str, source: str = "<materialization>") -> Materialization:
    """Create or replace the materialization the YAML describes; nothing is written if it is invalid."""
    spec = load_spec(yaml_text, source)
    validate_spec(session, spec, source)
    row, created = save_spec(session, spec)
    audit(session, "materialization.apply", spec.name, source=source, created=created,
          casilla=spec.casilla, tables=list(spec.tables), destinations=list(spec.destinations))
    return row


def get_materialization(session: Session, name: str) -> Materialization:
    row = session.scalar(select(Materialization).where(Materialization.nombre == name))
    if row is None:
        known = session.scalars(select(Materialization.nombre).order_by(Materialization.nombre)).all()
        raise ConfigError(f"unknown materialization {name!r} (known: {', '.join(known) or 'none'})")
    return row


def list_materializations(session: Session) -> list[Materialization]:
    return list(session.scalars(select(Materialization).order_by(Materialization.nombre)))


def export_materialization(session: Session, name: str) -> str:
    """The canonical YAML of materialization `name`; `apply` of it changes nothing."""
    return dump_spec(spec_from_row(get_materialization(session, name)))
