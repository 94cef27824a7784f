"""Opening a SQL Server connection (pymssql): the one way writes and `connections test` do it:
the TDS version of the settings (default 7.4), UTF-8, autocommit (the write begins its own
transaction), and the session options every write relies on."""

from __future__ import annotations

import socket
from typing import Any

import pymssql

from sage_pipelines.destinations.base import ConnectionSettings
from sage_pipelines.destinations.sql.connect import Client, ConnectHints
from sage_pipelines.destinations.sqlserver.settings import DEFAULT_PORT, SQLServerSettings

CONNECT_TIMEOUT_SECONDS = 10
QUERY_TIMEOUT_SECONDS = 0  # pymssql: 0 waits as long as the statement runs (bulk writes)

# Set on every connection: errors abort and roll back the whole transaction; truncation and
# overflow are errors, not warnings; NULL and quoted-identifier behave as the standard says.
SESSION_SETTINGS = (
    "SET XACT_ABORT ON; SET ANSI_NULLS ON; SET ANSI_PADDING ON; SET ANSI_WARNINGS ON; "
    "SET ARITHABORT ON; SET CONCAT_NULL_YIELDS_NULL ON; SET QUOTED_IDENTIFIER ON; "
    "SET NUMERIC_ROUNDABORT OFF; SET IMPLICIT_TRANSACTIONS OFF; SET NOCOUNT OFF;")


def connect_kwargs(settings: ConnectionSettings, timeout: float | None = None) -> dict[str, Any]:
    """Everything pymssql.connect gets but the password."""
    kwargs = SQLServerSettings.of(settings).driver_kwargs(CONNECT_TIMEOUT_SECONDS if timeout is None else timeout)
    kwargs.update(timeout=QUERY_TIMEOUT_SECONDS, autocommit=True, charset="UTF-8")
    return kwargs


def open_connection(settings: ConnectionSettings, timeout: float | None = None) -> Any:
    kwargs = connect_kwargs(settings, timeout)
    # FreeTDS reports an unknown host as "Unknown error"; resolving first names the host.
    socket.getaddrinfo(str(kwargs["server"]).split("\\")[0], kwargs["port"])  # host\instance
    password = settings.password()
    if password is not None:
        kwargs["password"] = password
    conn = pymssql.connect(**kwargs)
    try:
        cur = conn.cursor()
        cur.execute(SESSION_SETTINGS)
        cur.close()
    except BaseException:
        conn.close()
        raise
    return conn



CLIENT = Client(open=open_connection, hints=ConnectHints(default_port=DEFAULT_PORT))
