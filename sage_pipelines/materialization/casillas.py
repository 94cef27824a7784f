"""The registered casillas as the materialization model reads them: a row and its parsed SAGE YAML.

Registering a casilla (and the rules around it) is `services.casillas`; validating a spec and
resolving plans only need to find one and parse what it stores.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from sage_pipelines.casilla.model import SageYaml
from sage_pipelines.casilla.parser import parse_sage_yaml
from sage_pipelines.store.lookup import get_named
from sage_pipelines.store.models import Casilla


def get_casilla(session: Session, name: str) -> Casilla:
    """The registered casilla `name`, or a ConfigError listing the registered ones."""
    return get_named(session, Casilla, name, "casilla", "sage casillas add NAME --yaml FILE")


def casilla_yaml(row: Casilla) -> SageYaml:
    """The SAGE YAML a casilla row stores, parsed."""
    return parse_sage_yaml(row.yaml_contenido, f"casilla {row.nombre}")


def load_casilla(session: Session, name: str) -> tuple[Casilla, SageYaml]:
    """The casilla row and its parsed SAGE YAML."""
    row = get_casilla(session, name)
    return row, casilla_yaml(row)
