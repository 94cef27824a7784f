"""The one list of destination kinds, and everything derived from it.

Each kind's package (`destinations/<kind>/__init__.py`) declares its `KIND`: name, family,
capabilities and settings model, which are data, and the modules of its destination class and
client, which are imported only when the kind is used (`destination_class`, `probe`), so this
module, and `sage --help`, never import a driver.

Derived here, and used everywhere else instead of a list of names: `DESTINATION_KINDS`,
`DATABASE_KINDS` (the secret types of a database connection), `LAKE_FORMATS`, and each kind's
`capabilities` (read by the SQL / lake cores, the materialization validator and the run queue's
writer tags).

The lazy `importlib` load in `_load` is the one place the package imports its own modules inside
a function (the import contract's allowlist names it).
"""

from __future__ import annotations

import importlib
from typing import Any

from sage_pipelines.destinations import delta, duckdb, hudi, iceberg, mysql, postgresql, sqlserver
from sage_pipelines.destinations.base import Capabilities, ConnectionSettings, DestinationKind, LakeSettings
from sage_pipelines.errors import ConfigError

# In this order in every message and choice list.
KINDS: tuple[DestinationKind, ...] = (
    postgresql.KIND,
    mysql.KIND,
    sqlserver.KIND,
    duckdb.KIND,
    iceberg.KIND,
    delta.KIND,
    hudi.KIND,
)

BY_NAME: dict[str, DestinationKind] = {k.name: k for k in KINDS}
DESTINATION_KINDS: tuple[str, ...] = tuple(BY_NAME)
DATABASE_KINDS: tuple[str, ...] = tuple(k.name for k in KINDS if not k.is_lake)
# The table formats a lake destination takes (`format:` in a materialization).
LAKE_FORMATS: tuple[str, ...] = tuple(k.name for k in KINDS if k.is_lake)


def kind(name: str) -> DestinationKind:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ConfigError(f"unknown destination kind {name!r} (known: {', '.join(DESTINATION_KINDS)})") from None


def capabilities(name: str) -> Capabilities:
    return kind(name).capabilities


def _load(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


def destination_class(name: str) -> type:
    """The kind's Destination class (its driver is imported now)."""
    return _load(kind(name).destination)


def open_destination(settings: ConnectionSettings | LakeSettings) -> Any:
    """A destination for ready settings: a database connection's kind, or a lake's format."""
    name = settings.format if isinstance(settings, LakeSettings) else settings.kind
    return destination_class(name)(settings)


def probe(settings: ConnectionSettings, timeout: float = 10) -> tuple[bool, float | None, str]:
    """`sage connections test`: the kind's client connects as a write does, then `SELECT 1`."""
    k = kind(settings.kind)
    if k.client is None:
        raise ConfigError(f"connection {settings.name!r}: kind {k.name!r} has no connection to test")
    return _load(k.client).probe(settings, timeout)
