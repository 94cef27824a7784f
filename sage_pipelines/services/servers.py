"""Materialization servers: adding, listing and removing them, and their broker.

`local` always exists (`register_local_server`, called lazily by every reader) and can be
neither added nor removed. A remote server keeps its broker endpoint WITHOUT the password; the
password is a `broker` secret named `server.<name>.broker`, encrypted like every other secret,
and joins the URL only in `broker_url`, called when a worker or an executor connects. A server
that a materialization is pinned to (`server: NAME`) cannot be removed.

After adding or removing a server the caller re-writes the Dagster instance's run-queue limits
(`servers.instance.sync_instance_limits`, once the change is committed).
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sage_pipelines.errors import ConfigError, ConflictError
from sage_pipelines.materialization.model import LOCAL_SERVER
from sage_pipelines.security import MASK, redact_url, remember_secret
from sage_pipelines.services.audit import audit, masked
from sage_pipelines.services.broker_tls import split_tls
from sage_pipelines.services.secrets import secret_payload, store_secret
from sage_pipelines.settings import SageHome
from sage_pipelines.store.lookup import get_named
from sage_pipelines.store.models import DbSecret, Materialization, MaterializationHistory, MaterializationServer
from sage_pipelines.store.states import ServerStatus

SERVER_TYPES = (LOCAL_SERVER, "remote", "container")
BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")
# A server's name is also its Celery queue and worker node prefix: keep it simple.
SERVER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,99}")


def secret_name(server: str) -> str:
    return f"server.{server}.broker"


def split_endpoint(url: str) -> tuple[str, str | None]:
    """(endpoint without its password, the password or None). Refuses what is not a broker URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ConfigError("--endpoint: not a valid URL", field="endpoint") from None
    if parts.scheme not in BROKER_SCHEMES or not parts.hostname:
        raise ConfigError(f"--endpoint must be a broker URL ({', '.join(s + '://' for s in BROKER_SCHEMES)}"
                          "host[:port]/...), not "
                          f"{redact_endpoint(url)!r}", field="endpoint")
    split_tls(url.strip())  # refuses unknown or misplaced TLS options now, not when a worker starts
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{port}" if port else "")
    password = unquote(parts.password) if parts.password else None
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), password


def redact_endpoint(url: str) -> str:
    try:
        return redact_url(url)
    except ValueError:
        return MASK


def with_password(endpoint: str, password: str | None, *, quoted: bool = True) -> str:
    """The endpoint with `password` in its userinfo (Redis: `redis://:pw@host`)."""
    if not password:
        return endpoint
    parts = urlsplit(endpoint)
    user, _, hostport = parts.netloc.rpartition("@")
    secret = quote(password, safe="") if quoted else password
    return urlunsplit((parts.scheme, f"{user}:{secret}@{hostport}", parts.path,
                       parts.query, parts.fragment))


def display_endpoint(server: MaterializationServer) -> str:
    """What users see: the endpoint, with `***` where the stored password goes."""
    if not server.endpoint:
        return "(in-process)" if server.tipo == LOCAL_SERVER else ""
    return with_password(server.endpoint, MASK, quoted=False) if server.secret_id else server.endpoint


def register_local_server(session: Session) -> MaterializationServer:
    """The `local` server: always present, runs steps inside the Dagster run's process."""
    row = session.scalar(select(MaterializationServer).where(MaterializationServer.nombre == LOCAL_SERVER))
    if row is None:
        row = MaterializationServer(nombre=LOCAL_SERVER, tipo=LOCAL_SERVER, capacidad=1, prioridad=0,
                                    estado=ServerStatus.ONLINE, metricas={})
        session.add(row)
        session.flush()
    return row


def list_servers(session: Session) -> list[MaterializationServer]:
    register_local_server(session)
    return list(session.scalars(select(MaterializationServer).order_by(MaterializationServer.id)))


def get_server(session: Session, name: str) -> MaterializationServer:
    register_local_server(session)
    return get_named(session, MaterializationServer, name, "server",
                     "sage servers add NAME --type remote --endpoint BROKER_URL")


def audit_fields(session: Session, server: MaterializationServer) -> dict[str, object]:
    """A server as the audit sees it; its broker password as `***` (compared by ciphertext)."""
    secret = session.get(DbSecret, server.secret_id) if server.secret_id is not None else None
    return {"type": server.tipo, "endpoint": server.endpoint, "capacity": server.capacidad,
            "priority": server.prioridad, "password": masked(secret.credenciales if secret is not None else None)}


def add_server(session: Session, name: str, type: str = "remote", endpoint: str | None = None,
               capacity: int = 1, priority: int = 0, password: str | None = None, *,
               home: SageHome | None = None, replace: bool = False) -> MaterializationServer:
    """Register a server. A password in `endpoint` or in `password` is stored encrypted."""
    if not isinstance(name, str) or not SERVER_NAME.fullmatch(name):
        raise ConfigError(f"server name {name!r}: use letters, digits, '_' or '-' (it names the Celery queue)",
                          field="name")
    if type not in SERVER_TYPES:
        raise ConfigError(f"server {name!r}: type {type!r} is not one of {', '.join(SERVER_TYPES)}", field="type")
    if name == LOCAL_SERVER or type == LOCAL_SERVER:
        raise ConfigError("server 'local' always exists and there is only one; add remote or container servers",
                          field="name" if name == LOCAL_SERVER else "type")
    if capacity < 1:
        raise ConfigError(f"server {name!r}: capacity must be at least 1, not {capacity}", field="capacity")
    if not endpoint:
        raise ConfigError(f"server {name!r}: a {type} server needs --endpoint BROKER_URL (redis:// or amqp://)",
                          field="endpoint")
    clean, url_password = split_endpoint(endpoint)
    password = password or url_password
    register_local_server(session)
    row = session.scalar(select(MaterializationServer).where(MaterializationServer.nombre == name))
    if row is not None and not replace:
        raise ConflictError(f"server {name!r} already exists (remove it first)", field="name")
    before = None if row is None else audit_fields(session, row)
    secret = None
    if password:
        remember_secret(password)
        parts = urlsplit(clean)
        secret, _ = store_secret(session, secret_name(name), "broker", host=parts.hostname, port=parts.port,
                                 user=parts.username, password=password, home=home, replace=True)
    if row is None:
        row = MaterializationServer(nombre=name, metricas={}, estado=ServerStatus.UNKNOWN)
        session.add(row)
    old_secret_id = row.secret_id
    row.tipo, row.endpoint, row.capacidad, row.prioridad = type, clean, int(capacity), int(priority)
    row.secret_id = secret.id if secret is not None else None
    session.flush()
    if old_secret_id is not None and row.secret_id is None:  # the broker has no password any more
        _drop_broker_secret(session, name, old_secret_id)
    audit(session, "server.add" if before is None else "server.replace", f"server:{name}", before=before,
          after=audit_fields(session, row))
    return row


def _drop_broker_secret(session: Session, server: str, secret_id: int) -> None:
    secret = session.get(DbSecret, secret_id)
    if secret is not None and secret.nombre == secret_name(server):
        session.delete(secret)
        session.flush()


def remove_server(session: Session, name: str) -> None:
    """Remove server `name` and its broker secret; its history rows stay, without the server id."""
    if name == LOCAL_SERVER:
        raise ConflictError("server 'local' always exists and cannot be removed")
    row = get_server(session, name)
    pinned = session.scalars(select(Materialization.nombre).where(Materialization.servidor == name)
                             .order_by(Materialization.nombre)).all()
    if pinned:
        raise ConflictError(f"server {name!r} is pinned by materialization(s) {', '.join(pinned)} "
                            f"(`server: {name}`); apply them with another server first")
    before = audit_fields(session, row)
    secret_id = row.secret_id
    session.execute(update(MaterializationHistory).where(MaterializationHistory.servidor_id == row.id)
                    .values(servidor_id=None))
    session.delete(row)
    session.flush()
    if secret_id is not None:
        _drop_broker_secret(session, name, secret_id)
    audit(session, "server.remove", f"server:{name}", before=before)


def broker_url(session: Session, server: MaterializationServer, *, home: SageHome | None = None) -> str:
    """The full broker URL, password included. Call only to connect; never log or store it."""
    if server.tipo == LOCAL_SERVER or not server.endpoint:
        raise ConfigError(f"server {server.nombre!r} has no broker (it runs in the Dagster run's process)")
    password = secret_payload(session, server.secret_id, home=home).get("password") if server.secret_id else None
    return with_password(server.endpoint, password)
