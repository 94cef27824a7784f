"""MySQL / MariaDB settings: host, port, user, database, and the TLS options the server takes.

Options (`--option KEY=VALUE` on the secret):
- `sslmode`: disable | require (encrypted, certificate not checked) | verify-ca | verify-full
  (libpq's words, also `verify_identity`);
- `ssl_ca` (or `sslrootcert`), `ssl_cert` (or `sslcert`), `ssl_key` (or `sslkey`): PEM files;
- `ssl_verify_cert`, `ssl_verify_identity`, `ssl_disabled`: true / false;
- `init_command`, `read_timeout`, `write_timeout`: passed to PyMySQL.
What every write needs is not an option: `utf8mb4`, `local_infile` (LOAD DATA LOCAL INFILE, which
the server must allow too: `local_infile = 1`), autocommit off in the data transaction and a
strict `sql_mode`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from sage_pipelines.destinations.base import ConnectionSettings

DEFAULT_PORT = 3306

# PyMySQL's own TLS keywords, and the libpq spellings we accept for them.
_TLS = {"ssl_ca": "ssl_ca", "sslrootcert": "ssl_ca", "ssl_cert": "ssl_cert", "sslcert": "ssl_cert",
        "ssl_key": "ssl_key", "sslkey": "ssl_key"}
_FLAGS = ("ssl_verify_cert", "ssl_verify_identity", "ssl_disabled")
_PLAIN = ("init_command", "read_timeout", "write_timeout")


def truthy(value: str) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class MySQLSettings:
    """A MySQL or MariaDB server reached with PyMySQL."""

    OPTIONS: ClassVar[dict[str, str]] = {
        "sslmode": "disable | require | verify-ca | verify-full",
        "ssl_ca": "CA certificate file (also sslrootcert)",
        "ssl_cert": "client certificate file (also sslcert)",
        "ssl_key": "client key file (also sslkey)",
        "ssl_verify_cert": "true / false", "ssl_verify_identity": "true / false", "ssl_disabled": "true / false",
        "init_command": "SQL run after connecting", "read_timeout": "seconds", "write_timeout": "seconds",
    }

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    user: str = "root"
    database: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: ConnectionSettings) -> "MySQLSettings":
        return cls(settings.host or "127.0.0.1", int(settings.port or DEFAULT_PORT), settings.user or "root",
                   settings.database, dict(settings.options))

    def driver_kwargs(self, timeout: float) -> dict[str, Any]:
        """PyMySQL keyword arguments (without the password); TLS from the options."""
        kwargs: dict[str, Any] = {"host": self.host, "port": self.port, "user": self.user,
                                  "connect_timeout": timeout}
        if self.database:
            kwargs["database"] = self.database
        opts = self.options
        for key, target in _TLS.items():
            if key in opts:
                kwargs[target] = opts[key]
        for key in _FLAGS:
            if key in opts:
                kwargs[key] = truthy(opts[key])
        for key in _PLAIN:
            if key in opts:
                kwargs[key] = opts[key]
        mode = opts.get("sslmode", "").lower()
        if mode == "disable":
            kwargs["ssl_disabled"] = True
        elif mode in ("require", "required") and not any(k in kwargs for k in ("ssl_ca", "ssl_cert")):
            kwargs["ssl"] = {"check_hostname": False}  # encrypted, certificate not checked (libpq's meaning)
        elif mode in ("verify-ca", "verify_ca"):
            kwargs["ssl_verify_cert"] = True
        elif mode in ("verify-full", "verify_identity"):
            kwargs["ssl_verify_cert"] = kwargs["ssl_verify_identity"] = True
        return kwargs
