"""Opening a ready destination from the store's records: the one place names become objects.

Destinations know nothing of the store; they take settings. This service turns a connection
name or a lake name + format into those settings (`services.connections`, `services.lakes`) and
the kind's class (`destinations.registry`). Nothing is decrypted here: the settings carry
callables that decrypt when the destination connects.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from sage_pipelines.destinations.base import Destination
from sage_pipelines.destinations.registry import open_destination as open_kind
from sage_pipelines.errors import ConfigError
from sage_pipelines.services.connections import connection_settings
from sage_pipelines.services.lakes import lake_settings


def open_destination(session: Session, *, connection: str | None = None, lake: str | None = None,
                     format: str | None = None) -> Destination:
    """A destination for a database connection, or for a lake in a table format."""
    if lake:
        settings = lake_settings(session, lake, format)  # refuses a format that is not a lake format
        return open_kind(settings)
    if connection:
        settings = connection_settings(session, connection)
        return open_kind(settings)
    raise ConfigError("a destination needs a connection or a lake")
