"""Build a ready destination from the store's records (the one place names become objects)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from sage_pipelines.destinations.base import Destination
from sage_pipelines.destinations.registry import destination_class
from sage_pipelines.errors import ConfigError

LAKE_FORMATS = ("iceberg", "delta", "hudi")


def open_destination(session: Session, *, connection: str | None = None, lake: str | None = None,
                     format: str | None = None) -> Destination:
    """A destination for a database connection or a lake + format. Nothing is decrypted here:
    the settings carry callables that decrypt when the destination connects."""
    if lake:
        from sage_pipelines.store.lakes import lake_settings

        if format not in LAKE_FORMATS:
            raise ConfigError(f"lake {lake!r}: format must be one of {', '.join(LAKE_FORMATS)}, not {format!r}")
        return destination_class(format)(lake_settings(session, lake, format))
    if connection:
        from sage_pipelines.store.connections import connection_settings

        settings = connection_settings(session, connection)
        return destination_class(settings.kind)(settings)
    raise ConfigError("a destination needs a connection or a lake")
