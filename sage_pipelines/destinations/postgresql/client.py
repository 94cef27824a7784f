"""Opening a PostgreSQL connection (psycopg 3): the one way writes and `connections test` do it.
Every libpq option of the settings passes through; the password is decrypted only here."""

from __future__ import annotations

from typing import Any

import psycopg

from sage_pipelines.destinations.base import ConnectionSettings
from sage_pipelines.destinations.postgresql.settings import DEFAULT_PORT, PostgresSettings
from sage_pipelines.destinations.sql.connect import Client, ConnectHints

CONNECT_TIMEOUT_SECONDS = 10


def open_connection(settings: ConnectionSettings, timeout: float | None = None) -> Any:
    """The one way writes and `connections test` connect (libpq options pass through)."""
    kwargs = PostgresSettings.of(settings).driver_kwargs(CONNECT_TIMEOUT_SECONDS if timeout is None else timeout)
    password = settings.password()
    if password is not None:
        kwargs["password"] = password
    return psycopg.connect(**kwargs)


CLIENT = Client(open=open_connection, hints=ConnectHints(default_port=DEFAULT_PORT))
