"""The casilla registry: a casilla is a name plus the SAGE YAML that describes its files."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.casilla.model import SageYaml
from sage_pipelines.casilla.parser import parse_sage_yaml
from sage_pipelines.errors import ConfigError
from sage_pipelines.materialization.names import check_name
from sage_pipelines.store.audit import audit
from sage_pipelines.store.models import Casilla, Materialization


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
    from sage_pipelines.materialization.persist import spec_from_row  # the spec layer builds on this registry
    from sage_pipelines.materialization.validate import validate_spec

    for m in session.scalars(select(Materialization).where(Materialization.casilla_id == row.id)):
        try:
            validate_spec(session, spec_from_row(m), f"materialization {m.nombre}", sage=sage)
        except ConfigError as exc:
            raise ConfigError(f"casilla {row.nombre!r}: the new YAML breaks {exc}") from None


def get_casilla(session: Session, name: str) -> Casilla:
    """The registered casilla `name`, or a ConfigError listing the registered ones."""
    row = session.scalar(select(Casilla).where(Casilla.nombre == name))
    if row is None:
        known = session.scalars(select(Casilla.nombre).order_by(Casilla.nombre)).all()
        raise ConfigError(f"unknown casilla {name!r} (registered: {', '.join(known) or 'none'}; "
                          "add one with `sage casillas add NAME --yaml FILE`)")
    return row


def load_casilla(session: Session, name: str) -> tuple[Casilla, SageYaml]:
    """The casilla row and its parsed SAGE YAML."""
    row = get_casilla(session, name)
    return row, parse_sage_yaml(row.yaml_contenido, f"casilla {name}")


def list_casillas(session: Session) -> list[Casilla]:
    return list(session.scalars(select(Casilla).order_by(Casilla.nombre)))
