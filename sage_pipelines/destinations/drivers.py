"""Opening a real DB-API connection from `ConnectionSettings`, probing it, and explaining why
it failed.

One place turns settings (host, port, user, options such as `sslmode` / `sslrootcert` /
`ssl_ca`) into each driver's keyword arguments, so `sage connections test` (`probe`) and the
destinations connect the same way. The password is asked for (decrypted) only inside
`open_dbapi`. Nothing here knows the store: settings arrive ready-made (`services.connections`).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import ssl
import time
from typing import Any, Callable

from sage_pipelines.destinations.base import ConnectionSettings
from sage_pipelines.errors import ConfigError
from sage_pipelines.security import known_secrets, redact

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "sqlserver": 1433}

# PyMySQL's own TLS keywords, and the libpq spellings we accept for them.
_MYSQL_TLS = {"ssl_ca": "ssl_ca", "sslrootcert": "ssl_ca", "ssl_cert": "ssl_cert", "sslcert": "ssl_cert",
              "ssl_key": "ssl_key", "sslkey": "ssl_key"}
_MYSQL_FLAGS = ("ssl_verify_cert", "ssl_verify_identity", "ssl_disabled", "local_infile")
_MYSQL_PLAIN = ("charset", "init_command", "read_timeout", "write_timeout")
_MSSQL_PLAIN = ("tds_version", "encryption", "charset", "appname")
_TLS_FILE_OPTIONS = ("sslrootcert", "sslcert", "sslkey", "sslcrl", "ssl_ca", "ssl_cert", "ssl_key")


def _truthy(value: str) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def psycopg_kwargs(settings: ConnectionSettings, timeout: int) -> dict[str, Any]:
    """libpq parameters; every option (sslmode, sslrootcert, application_name, ...) passes through."""
    kwargs: dict[str, Any] = {"host": settings.host or "127.0.0.1",
                              "port": settings.port or DEFAULT_PORTS["postgresql"],
                              "dbname": settings.database or "postgres", "connect_timeout": timeout}
    if settings.user:
        kwargs["user"] = settings.user
    kwargs.update(settings.options)
    return kwargs


def pymysql_kwargs(settings: ConnectionSettings, timeout: int) -> dict[str, Any]:
    """PyMySQL parameters; TLS from `ssl_ca` (or `sslrootcert`), `ssl_cert`, `ssl_key`, `sslmode`."""
    kwargs: dict[str, Any] = {"host": settings.host or "127.0.0.1",
                              "port": int(settings.port or DEFAULT_PORTS["mysql"]),
                              "user": settings.user or "root", "connect_timeout": timeout}
    if settings.database:
        kwargs["database"] = settings.database
    opts = dict(settings.options)
    for key, target in _MYSQL_TLS.items():
        if key in opts:
            kwargs[target] = opts[key]
    for key in _MYSQL_FLAGS:
        if key in opts:
            kwargs[key] = _truthy(opts[key])
    for key in _MYSQL_PLAIN:
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


def pymssql_kwargs(settings: ConnectionSettings, timeout: int) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"server": settings.host or "127.0.0.1",
                              "port": str(settings.port or DEFAULT_PORTS["sqlserver"]),
                              "login_timeout": timeout, "timeout": timeout}
    if settings.user:
        kwargs["user"] = settings.user
    if settings.database:
        kwargs["database"] = settings.database
    kwargs.update({k: v for k, v in settings.options.items() if k in _MSSQL_PLAIN})
    return kwargs


def _open_postgresql(settings: ConnectionSettings, timeout: int) -> Any:
    import psycopg

    kwargs = psycopg_kwargs(settings, timeout)
    password = settings.password()
    if password is not None:
        kwargs["password"] = password
    return psycopg.connect(**kwargs)


def _open_mysql(settings: ConnectionSettings, timeout: int) -> Any:
    import pymysql

    kwargs = pymysql_kwargs(settings, timeout)
    kwargs["password"] = settings.password() or ""
    return pymysql.connect(**kwargs)


def _open_sqlserver(settings: ConnectionSettings, timeout: int) -> Any:
    import pymssql

    kwargs = pymssql_kwargs(settings, timeout)
    password = settings.password()
    if password is not None:
        kwargs["password"] = password
    return pymssql.connect(**kwargs)


def _open_duckdb(settings: ConnectionSettings, timeout: int) -> Any:
    """An existing file opens read-only (a probe must not take the write lock); a missing one is
    created, as the first write would, provided its directory exists."""
    import duckdb

    path = settings.database or ":memory:"
    if path == ":memory:":
        return duckdb.connect(path)
    if os.path.exists(path):
        return duckdb.connect(path, read_only=True)
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise FileNotFoundError(f"directory of {path} does not exist")
    return duckdb.connect(path)


OPENERS: dict[str, Callable[[ConnectionSettings, int], Any]] = {
    "postgresql": _open_postgresql, "mysql": _open_mysql, "sqlserver": _open_sqlserver, "duckdb": _open_duckdb}


def open_dbapi(settings: ConnectionSettings, timeout: int = 10) -> Any:
    """A live DB-API connection (the password is decrypted here, at connect time)."""
    try:
        opener = OPENERS[settings.kind]
    except KeyError:
        raise ConfigError(f"connection {settings.name!r}: no driver for kind {settings.kind!r}") from None
    return opener(settings, timeout)


def probe(settings: ConnectionSettings, timeout: int = 10) -> tuple[bool, float | None, str]:
    """Connect for real and run `SELECT 1`: (ok, latency in ms, reason). Nothing is recorded."""
    seen: list[str | None] = []

    def password() -> str | None:
        seen.append(settings.password())
        return seen[-1]

    started = time.perf_counter()
    try:
        dbapi = open_dbapi(dataclasses.replace(settings, password=password), timeout)
        try:
            cur = dbapi.cursor()
            cur.execute("SELECT 1")
            cur.fetchall()
        finally:
            dbapi.close()
    except Exception as exc:  # every driver has its own hierarchy; each failure is explained
        _, reason = explain_connect_error(settings, exc, tuple(seen))
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


def _has(text: str, needles: tuple[str, ...]) -> bool:
    return any(n in text for n in needles)


# MySQL / MariaDB client and server error numbers that say exactly what is wrong.
_MYSQL_ERRNO = {1044: "credentials", 1045: "credentials", 1049: "database", 2005: "host", 2026: "TLS"}


def _category(settings: ConnectionSettings, exc: BaseException) -> str:
    text = (str(exc) or type(exc).__name__).lower()
    errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    tls_files = {str(v) for k, v in settings.options.items() if k in _TLS_FILE_OPTIONS}
    if settings.kind == "mysql" and errno in _MYSQL_ERRNO:
        return _MYSQL_ERRNO[errno]
    if isinstance(exc, socket.gaierror) or _has(text, _HOST):
        return "host"
    if isinstance(exc, ConnectionRefusedError) or _has(text, _PORT):
        return "port"
    if _has(text, _CREDENTIALS) or ("role" in text and "does not exist" in text):
        return "credentials"
    if settings.kind == "duckdb" or _has(text, _DATABASE) or ("database" in text and "does not exist" in text):
        return "database"
    if isinstance(exc, ssl.SSLError) or _has(text, _TLS):
        return "TLS"
    if tls_files and isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
        return "TLS"  # only a CA / certificate file is opened before the socket (no filename given)
    if _has(text, _TIMEOUT):
        return "timeout"
    return "connection"


def explain_connect_error(settings: ConnectionSettings, exc: BaseException,
                          secrets: tuple[str | None, ...] = ()) -> tuple[str, str]:
    """(category, one-line reason) for a failed connect. The category is one of host, port,
    credentials, database, TLS, timeout or connection; the reason never holds a secret."""
    host = settings.host or "127.0.0.1"
    port = settings.port or DEFAULT_PORTS.get(settings.kind)
    category = _category(settings, exc)
    tls_files = {str(v) for k, v in settings.options.items() if k in _TLS_FILE_OPTIONS}
    hint = {
        "host": f"host {host!r} cannot be resolved or reached",
        "port": f"nothing accepts connections on port {port} of {host} (wrong port, or no server there)",
        "credentials": f"the server refused user {settings.user!r}: wrong user or password",
        "database": f"database {settings.database!r} does not exist or cannot be opened",
        "TLS": "TLS failed; check sslmode and the CA / certificate files"
               + (f" ({', '.join(sorted(tls_files))})" if tls_files else ""),
        "timeout": f"no answer from {host}:{port} in time (wrong host or port, or a firewall): check host and port",
        "connection": "the connection failed",
    }[category]
    detail = " ".join(redact(str(exc) or type(exc).__name__, *secrets, *known_secrets()).split())
    return category, f"{category}: {hint} ({type(exc).__name__}: {detail})"
