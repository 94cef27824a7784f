"""PostgreSQL settings: host, port, user, database, and libpq options passed through as given."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from sage_pipelines.destinations.base import ConnectionSettings

DEFAULT_PORT = 5432


@dataclass(frozen=True)
class PostgresSettings:
    """A PostgreSQL database reached with psycopg 3. Every option is a libpq parameter and passes
    through as given: `sslmode` (disable | allow | prefer | require | verify-ca | verify-full),
    `sslrootcert`, `sslcert`, `sslkey`, `sslcrl`, `application_name`, `options`, ..."""

    OPTIONS: ClassVar[dict[str, str]] = {
        "sslmode": "disable | allow | prefer | require | verify-ca | verify-full",
        "sslrootcert": "CA certificate file", "sslcert": "client certificate file", "sslkey": "client key file",
        "sslcrl": "certificate revocation list", "application_name": "shown in pg_stat_activity",
        "(any libpq parameter)": "passed through as given",
    }

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    user: str | None = None
    database: str = "postgres"
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: ConnectionSettings) -> "PostgresSettings":
        return cls(settings.host or "127.0.0.1", int(settings.port or DEFAULT_PORT), settings.user,
                   settings.database or "postgres", dict(settings.options))

    def driver_kwargs(self, timeout: float) -> dict[str, Any]:
        """libpq parameters (without the password)."""
        kwargs: dict[str, Any] = {"host": self.host, "port": self.port, "dbname": self.database,
                                  "connect_timeout": int(timeout)}
        if self.user:
            kwargs["user"] = self.user
        kwargs.update(self.options)
        return kwargs

