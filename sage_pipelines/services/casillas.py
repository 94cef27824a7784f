"""The casilla registry: a casilla is a name plus the SAGE YAML that describes its files.

Rules: a name is safe for a folder and a Dagster name, the YAML parses before anything is
stored, and a new version of a casilla's YAML must still hold every catalog and column its
materializations use.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.casilla.model import SageYaml
from sage_pipelines.casilla.parser import parse_sage_yaml
from sage_pipelines.errors import ConfigError
from sage_pipelines.materialization.casillas import get_casilla, load_casilla
from sage_pipelines.materialization.names import check_name
from sage_pipelines.materialization.persist import spec_from_row
from sage_pipelines.materialization.validate import validate_spec
from sage_pipelines.store.audit import audit
from sage_pipelines.store.models import Casilla, Materialization

__all__ = ["get_casilla", "list_casillas", "load_casilla", "register_casilla"]


def register_casilla(session: Session, name: str, yaml_text: str, source: str) -> Casilla:
    """Register (or update) casilla `name`. The YAML is parsed first, so a bad one stores nothing."""
    check_name(name, "casilla")
    sage = parse_sage_yaml(yaml_text, source)
    row = session.scalar(select(Casilla).where(Casilla.nombre == name))
    created = row is None
    if row is not None:
        _check_materializations(session, row, sage)
    if row is None:
        row = Casilla(nombre=name, yaml_contenido=yaml_text, descripcion=sage.description or sage.name)
        session.add(row)
    else:
        row.yaml_contenido = yaml_text
        row.descripcion = sage.description or sage.name
    session.flush()
    audit(session, "casilla.add" if created else "casilla.update", name, source=source,
          catalogs=list(sage.catalogs))
    return row


def _check_materializations(session: Session, row: Casilla, sage: SageYaml) -> None:
    """A new version of the YAML must still hold every catalog and column its materializations use."""
    for m in session.scalars(select(Materialization).where(Materialization.casilla_id == row.id)):
        try:
            validate_spec(session, spec_from_row(m), f"materialization {m.nombre}", sage=sage)
        except ConfigError as exc:
            raise ConfigError(f"casilla {row.nombre!r}: the new YAML breaks {exc}") from None


def list_casillas(session: Session) -> list[Casilla]:
    return list(session.scalars(select(Casilla).order_by(Casilla.nombre)))
