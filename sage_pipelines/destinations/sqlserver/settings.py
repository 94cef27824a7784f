"""SQL Server settings: host (or `host\\instance`), port, user, database, and pymssql's options.

Options (`--option KEY=VALUE` on the secret):
- `tds_version`: the TDS protocol version, default 7.4 (DATE and DATETIME2 come back as Python
  dates and datetimes; older versions return them as text);
- `encryption`: off | request | require (FreeTDS);
- `appname`: the application name the server records.
Every connection speaks UTF-8 and sets the session options a write relies on (XACT_ABORT,
ANSI_*, QUOTED_IDENTIFIER); they are not options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from sage_pipelines.destinations.base import ConnectionSettings

DEFAULT_PORT = 1433
DEFAULT_TDS_VERSION = "7.4"
_PLAIN = ("tds_version", "encryption", "appname")


@dataclass(frozen=True)
class SQLServerSettings:
    """A SQL Server database reached with pymssql (FreeTDS)."""

    OPTIONS: ClassVar[dict[str, str]] = {
        "tds_version": f"TDS protocol version (default {DEFAULT_TDS_VERSION})",
        "encryption": "off | request | require",
        "appname": "application name shown by the server",
    }

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    user: str | None = None
    database: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: ConnectionSettings) -> "SQLServerSettings":
        return cls(settings.host or "127.0.0.1", int(settings.port or DEFAULT_PORT), settings.user,
                   settings.database, dict(settings.options))

    def driver_kwargs(self, timeout: float) -> dict[str, Any]:
        """pymssql keyword arguments (without the password or the query timeout)."""
        kwargs: dict[str, Any] = {"server": self.host, "port": str(self.port), "login_timeout": int(timeout),
                                  "tds_version": DEFAULT_TDS_VERSION}
        if self.user:
            kwargs["user"] = self.user
        if self.database:
            kwargs["database"] = self.database
        kwargs.update({k: v for k, v in self.options.items() if k in _PLAIN})
        return kwargs
