"""What every database kind's client shares: probing a connection, and explaining in one line why
a connect failed.

Each kind's `client` module opens its connection one way, for writes and for `sage connections
test` alike (`open_connection`); `probe` here runs that very function, then `SELECT 1`, so a
connection that passes its test is one a write can use. What differs between kinds in the
explanation is data (`ConnectHints`: default port, the driver's error numbers, a database that is
a file), never a branch on a kind's name.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from sage_pipelines.destinations.base import ConnectionSettings
from sage_pipelines.errors import SageError
from sage_pipelines.security import known_secrets, redact


class BulkPathRefused(Exception):
    """The server accepts the connection but refuses the bulk path every write takes (e.g.
    MySQL with `local_infile` off). Raised by a client's `open_connection`; explained as
    category `bulk load`, the same words for `connections test` and a write."""


@dataclass(frozen=True)
class ConnectHints:
    """What a kind tells the shared explanation: its default port, the driver error numbers that
    name exactly what is wrong, and whether the database is a file (DuckDB: any failure to open
    it is about the database)."""

    default_port: int | None = None
    errno_categories: dict[int, str] = field(default_factory=dict)
    file_database: bool = False


def _close(conn: Any) -> None:
    conn.close()


@dataclass(frozen=True)
class Client:
    """A kind's connect code: `open(settings, timeout)` gives a connection ready to write
    (timeout None: the kind's own, what a write waits), `close(conn)` ends it (releasing
    whatever `open` took)."""

    open: Callable[[ConnectionSettings, float | None], Any]
    hints: ConnectHints = ConnectHints()
    close: Callable[[Any], None] = _close

    def probe(self, settings: ConnectionSettings, timeout: float = 10) -> tuple[bool, float | None, str]:
        return probe(self, settings, timeout)


def probe(client: Client, settings: ConnectionSettings, timeout: float = 10) -> tuple[bool, float | None, str]:
    """Connect exactly as a write does and run `SELECT 1`: (ok, latency in ms, reason).
    Nothing is recorded; the reason never holds a secret."""
    seen: list[str | None] = []

    def password() -> str | None:
        seen.append(settings.password())
        return seen[-1]

    started = time.perf_counter()
    try:
        conn = client.open(dataclasses.replace(settings, password=password), timeout)
        try:
            cur = conn.cursor()
            cur.execute("SELECT 1")
            cur.fetchall()
            cur.close()
        finally:
            client.close(conn)
    except Exception as exc:  # every driver has its own hierarchy; each failure is explained
        _, reason = explain_connect_error(settings, exc, client.hints, tuple(seen))
        return False, None, reason
    latency = (time.perf_counter() - started) * 1000.0
    return True, latency, f"connected in {latency:.1f} ms"


# --------------------------------------------------------------------------- error explanation

_HOST = ("failed to resolve host", "could not translate host name", "name or service not known",
         "nodename nor servname", "temporary failure in name resolution", "no address associated",
         "[errno -2]", "[errno -3]", "[errno -5]", "getaddrinfo", "unknown host")
_PORT = ("connection refused", "[errno 111]", "[errno 61]", "actively refused")
_TIMEOUT = ("timeout expired", "timed out", "timeout")
_CREDENTIALS = ("password authentication failed", "authentication failed", "access denied for user",
                "login failed", "no password supplied", "pg_hba.conf", "password is required")
_DATABASE = ("unknown database", "cannot open database", "database files", "not a valid duckdb database",
             "could not set lock", "cannot open file", "is not a database")
_TLS = ("ssl", "tls", "certificate")
TLS_FILE_OPTIONS = ("sslrootcert", "sslcert", "sslkey", "sslcrl", "ssl_ca", "ssl_cert", "ssl_key")


def _has(text: str, needles: tuple[str, ...]) -> bool:
    return any(n in text for n in needles)


def _tls_files(settings: ConnectionSettings) -> set[str]:
    return {str(v) for k, v in settings.options.items() if k in TLS_FILE_OPTIONS}


def _category(settings: ConnectionSettings, exc: BaseException, hints: ConnectHints) -> str:
    if isinstance(exc, BulkPathRefused):
        return "bulk load"
    text = (str(exc) or type(exc).__name__).lower()
    errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    if errno in hints.errno_categories:
        return hints.errno_categories[errno]
    if isinstance(exc, socket.gaierror) or _has(text, _HOST):
        return "host"
    if isinstance(exc, ConnectionRefusedError) or _has(text, _PORT):
        return "port"
    if _has(text, _CREDENTIALS) or ("role" in text and "does not exist" in text):
        return "credentials"
    if hints.file_database or _has(text, _DATABASE) or ("database" in text and "does not exist" in text):
        return "database"
    if isinstance(exc, ssl.SSLError) or _has(text, _TLS):
        return "TLS"
    if _tls_files(settings) and isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
        return "TLS"  # only a CA / certificate file is opened before the socket (no filename given)
    if _has(text, _TIMEOUT):
        return "timeout"
    return "connection"


def explain_connect_error(settings: ConnectionSettings, exc: BaseException, hints: ConnectHints,
                          secrets: tuple[str | None, ...] = ()) -> tuple[str, str]:
    """(category, one-line reason) for a failed connect. The category is one of host, port,
    credentials, database, TLS, timeout, bulk load or connection; the reason never holds a secret."""
    if isinstance(exc, SageError):
        return "connection", " ".join(redact(str(exc), *secrets, *known_secrets()).split())
    host = settings.host or "127.0.0.1"
    port = settings.port or hints.default_port
    category = _category(settings, exc, hints)
    tls_files = _tls_files(settings)
    hint = {
        "host": f"host {host!r} cannot be resolved or reached",
        "port": f"nothing accepts connections on port {port} of {host} (wrong port, or no server there)",
        "credentials": f"the server refused user {settings.user!r}: wrong user or password",
        "database": f"database {settings.database!r} does not exist or cannot be opened",
        "TLS": "TLS failed; check sslmode and the CA / certificate files"
               + (f" ({', '.join(sorted(tls_files))})" if tls_files else ""),
        "timeout": f"no answer from {host}:{port} in time (wrong host or port, or a firewall): check host and port",
        "bulk load": "the server refuses the bulk load every write uses",
        "connection": "the connection failed",
    }[category]
    detail = " ".join(redact(str(exc) or type(exc).__name__, *secrets, *known_secrets()).split())
    if isinstance(exc, BulkPathRefused):
        return category, f"{category}: {hint}: {detail}"
    return category, f"{category}: {hint} ({type(exc).__name__}: {detail})"
