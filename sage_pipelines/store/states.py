"""The state words the store's rows hold, each defined once.

The data model keeps the plan's Spanish column names (`estado_conexion`, `estado`); the values
are English, because they are what users read in `connections list`, `servers list/status` and
`history`. Migration 0004 rewrote the Spanish values of older stores (`sin_probar`,
`desconocido`, `exito`, `fallido`).
"""

from __future__ import annotations


class ConnectionStatus:
    """`database_connections.estado_conexion`: the outcome of the last `sage connections test`."""

    UNTESTED = "untested"
    OK = "ok"
    ERROR = "error"


class ServerStatus:
    """`materialization_servers.estado`: what the last ping (or the worker's own stamp) found."""

    UNKNOWN = "unknown"  # registered, never checked
    ONLINE = "online"
    OFFLINE = "offline"  # the broker answered, no worker of the server did
    BROKER_DOWN = "broker_down"
    STOPPED = "stopped"  # the worker said so on its way out


class HistoryStatus:
    """`materialization_history.estado`: how one write of one upload into one table ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
