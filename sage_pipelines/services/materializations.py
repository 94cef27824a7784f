"""Materializations: applying a YAML, exporting it back, listing them.

`apply_materialization` loads the YAML, or the same document already parsed (the API's JSON
body), with `materialization.loader`, validates it against the casilla and the store
(`materialization.validate`) and only then writes it (`materialization.persist`) and audits the
change, all in the caller's transaction: an invalid document writes nothing. `export_materialization` prints the canonical YAML, which `apply` takes
back unchanged.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from typing import Any, Mapping

from sage_pipelines.errors import NotFoundError
from sage_pipelines.materialization.export import dump_spec, spec_to_dict
from sage_pipelines.materialization.loader import load_spec, spec_from_document
from sage_pipelines.materialization.model import MaterializationSpec
from sage_pipelines.materialization.persist import save_spec, spec_from_row
from sage_pipelines.materialization.validate import validate_spec
from sage_pipelines.services.audit import audit
from sage_pipelines.store.models import Materialization


def apply_materialization(session: Session, document: str | Mapping[str, Any],
                          source: str = "<materialization>") -> Materialization:
    """Create or replace the materialization the YAML text (or the already parsed document, e.g.
    a JSON body) describes; nothing is written if it is invalid."""
    spec = load_spec(document, source) if isinstance(document, str) else spec_from_document(document, source)
    validate_spec(session, spec, source)
    existing = session.scalar(select(Materialization).where(Materialization.nombre == spec.name))
    before = None if existing is None else audit_fields(spec_from_row(existing))
    row, created = save_spec(session, spec)
    audit(session, "materialization.apply", f"materialization:{spec.name}", before=before,
          after=audit_fields(spec), source=source)
    return row


def audit_fields(spec: MaterializationSpec) -> dict[str, Any]:
    """The canonical form, one field per setting, destination and table (`tables.ventas`), so a
    change to one table shows as that table's before and after."""
    fields: dict[str, Any] = {}
    for key, value in spec_to_dict(spec)["materialization"].items():
        if key in ("destinations", "tables"):
            fields.update({f"{key}.{name}": item for name, item in value.items()})
        else:
            fields[key] = value
    return fields


def get_materialization(session: Session, name: str) -> Materialization:
    row = session.scalar(select(Materialization).where(Materialization.nombre == name))
    if row is None:
        known = session.scalars(select(Materialization.nombre).order_by(Materialization.nombre)).all()
        raise NotFoundError(f"unknown materialization {name!r} (known: {', '.join(known) or 'none'})")
    return row


def list_materializations(session: Session) -> list[Materialization]:
    return list(session.scalars(select(Materialization).order_by(Materialization.nombre)))


def export_materialization(session: Session, name: str) -> str:
    """The canonical YAML of materialization `name`; `apply` of it changes nothing."""
    return dump_spec(spec_from_row(get_materialization(session, name)))
