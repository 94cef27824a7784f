"""Database connections: a name, a secret, and optionally a database and schema of their own.

`connection_settings` is how every other layer reaches a database: the settings carry the
secret's ciphertext inside a callable, so the password is decrypted only when a driver connects.
`test_connection` connects for real, through the very code a write connects with
(`destinations.registry.probe`), and records the outcome on the connection row.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.crypto import decrypt_secret
from sage_pipelines.destinations.base import ConnectionSettings
from sage_pipelines.destinations.registry import probe
from sage_pipelines.errors import ConfigError, ConflictError
from sage_pipelines.materialization.names import check_label
from sage_pipelines.services.audit import audit, remove_audited
from sage_pipelines.services.secrets import DATABASE_TYPES, get_secret
from sage_pipelines.settings import SageHome
from sage_pipelines.store.lookup import find_named, get_named, materializations_writing_to
from sage_pipelines.store.models import DatabaseConnection, DbSecret, utcnow
from sage_pipelines.store.states import ConnectionStatus

log = logging.getLogger(__name__)

def get_connection(session: Session, name: str) -> DatabaseConnection:
    return get_named(session, DatabaseConnection, name, "connection", "sage connections add NAME --secret S")


def list_connections(session: Session) -> list[DatabaseConnection]:
    return list(session.scalars(select(DatabaseConnection).order_by(DatabaseConnection.nombre)))


def audit_fields(conn: DatabaseConnection) -> dict[str, object]:
    return {"secret": conn.secret.nombre if conn.secret is not None else None, "database": conn.base_datos,
            "schema": conn.esquema}


def add_connection(session: Session, name: str, secret: str, database: str | None = None,
                   schema: str | None = None, *, replace: bool = False) -> DatabaseConnection:
    """Register connection `name` over a database secret. `replace` updates it in place."""
    check_label(name, "connection")
    row = get_secret(session, secret)
    if row.tipo not in DATABASE_TYPES:
        raise ConfigError(f"connection {name!r}: secret {secret!r} is of type {row.tipo!r}; "
                          f"a connection needs one of {', '.join(DATABASE_TYPES)}", field="secret")
    conn = find_named(session, DatabaseConnection, name)
    if conn is not None and not replace:
        raise ConflictError(f"connection {name!r} already exists", field="name")
    before = None if conn is None else audit_fields(conn)
    if conn is None:
        conn = DatabaseConnection(nombre=name, secret_id=row.id)
        session.add(conn)
    conn.secret_id, conn.base_datos, conn.esquema = row.id, database, schema
    conn.estado_conexion, conn.mensaje_error = ConnectionStatus.UNTESTED, None
    session.flush()
    session.refresh(conn, ["secret"])
    audit(session, "connection.add" if before is None else "connection.replace", f"connection:{name}",
          before=before, after=audit_fields(conn), type=row.tipo)
    return conn


def remove_connection(session: Session, name: str) -> None:
    """Forget connection `name`, unless a materialization writes to it."""
    conn = get_connection(session, name)
    remove_audited(session, conn, "connection", name, audit_fields(conn),
                   materializations_writing_to(session, connection_id=conn.id),
                   "apply them without it first")


def _password_callable(home: SageHome, ciphertext: bytes | None):  # noqa: ANN202
    """A closure over ciphertext (never plaintext) that decrypts on each call."""
    def password() -> str | None:
        return decrypt_secret(home, ciphertext).get("password") if ciphertext else None
    return password


def connection_settings(session: Session, conn_or_name: DatabaseConnection | str, *,
                        home: SageHome | None = None) -> ConnectionSettings:
    """How to reach connection `conn_or_name`: host, port, user and options from its secret,
    database and schema overridden by the connection; the password decrypts at call time."""
    home = home or SageHome.from_env()
    conn = get_connection(session, conn_or_name) if isinstance(conn_or_name, str) else conn_or_name
    secret: DbSecret = conn.secret
    options = dict(secret.opciones or {})
    return ConnectionSettings(
        kind=secret.tipo, name=conn.nombre, host=secret.servidor, port=secret.puerto, user=secret.usuario,
        database=conn.base_datos or secret.basedatos, schema=conn.esquema,
        options=options, password=_password_callable(home, secret.credenciales))


def test_connection(session: Session, name: str, *, home: SageHome | None = None,
                    timeout: int = 10) -> tuple[bool, float | None, str]:
    """Probe connection `name` and record `estado_conexion`, `ultimo_test`, `latencia_ms` and
    `mensaje_error` on it. The reason names host, port, credentials, database or TLS on failure."""
    conn = get_connection(session, name)
    ok, latency, reason = probe(connection_settings(session, conn, home=home), timeout)
    before = {"status": conn.estado_conexion}
    conn.estado_conexion = ConnectionStatus.OK if ok else ConnectionStatus.ERROR
    conn.ultimo_test = utcnow()
    conn.latencia_ms = latency
    conn.mensaje_error = None if ok else reason
    audit(session, "connection.test", f"connection:{name}", before=before, after={"status": conn.estado_conexion},
          latencia_ms=None if latency is None else round(latency, 3), categoria=failed_check(ok, reason))
    if ok:
        log.info("connection %s: %s", name, reason)
    else:
        log.warning("connection %s failed: %s", name, reason)
    return ok, latency, reason


test_connection.__test__ = False

CHECKS = ("host", "port", "credentials", "database", "TLS")


def failed_check(ok: bool, reason: str) -> str | None:
    """Which check a failed test names (host, port, credentials, database, TLS, timeout or
    connection): the word before the reason's first colon (`destinations/sql/connect.py`)."""
    return None if ok else reason.partition(":")[0]  # not a pytest test, despite its name
