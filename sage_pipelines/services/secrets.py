"""Secrets: the credentials connections, lakes and servers use, stored with only their password
(S3: its access keys) encrypted, and the rules around them.

A secret's name and type are checked, options that look like a password are refused (options are
plaintext), a secret in use by a connection, a lake or a server cannot be removed, and
`rotate_key` / `drop_old_keys` re-encrypt every stored secret under a new key. The keys and the
ciphertext themselves are `sage_pipelines.crypto`; plaintext exists only inside
`secret_payload` and the settings callables of `services.connections` / `services.lakes`, called
at connect time.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.crypto import (SECRET_KEY_ENV, Rotation, UndecryptableSecret, decrypt_secret, encrypt_secret,
                                   keep_newest_key)
from sage_pipelines.destinations.registry import DATABASE_KINDS
from sage_pipelines.errors import ConfigError, ConflictError, SageError
from sage_pipelines.materialization.names import check_label
from sage_pipelines.services.audit import audit, masked, remove_audited
from sage_pipelines.settings import SageHome
from sage_pipelines.store.lookup import find_named, get_named
from sage_pipelines.store.models import DatabaseConnection, DbSecret, Lake, MaterializationServer

DATABASE_TYPES = DATABASE_KINDS  # the registry's database kinds
SECRET_TYPES = DATABASE_TYPES + ("s3", "broker")
MASKED = "********"

# Option names that would put a secret in plaintext (`opciones` is not encrypted).
_SECRET_LIKE_OPTION = re.compile(r"pass|secret|token|credential", re.IGNORECASE)


# --------------------------------------------------------------------------- secrets

def _payload_for(type_: str, user: str | None, password: str | None) -> dict[str, str]:
    """What goes into the ciphertext: the password; for S3 both access keys."""
    if type_ == "s3":
        return {k: v for k, v in (("access_key_id", user), ("secret_access_key", password)) if v}
    return {"password": password} if password is not None else {}


def secret_fields(type_: str) -> tuple[str, ...]:
    """The names of the encrypted fields of a secret of this type (for displays)."""
    return ("access_key_id", "secret_access_key") if type_ == "s3" else ("password",)


def _check_options(name: str, options: Mapping[str, Any] | None) -> dict[str, str]:
    clean: dict[str, str] = {}
    for key, value in (options or {}).items():
        if _SECRET_LIKE_OPTION.search(key):
            raise ConfigError(f"secret {name!r}: option {key!r} looks like a secret, and options are "
                              "stored in plaintext; pass it as the password instead", field="options")
        clean[str(key)] = str(value)
    return clean


def get_secret(session: Session, name: str) -> DbSecret:
    return get_named(session, DbSecret, name, "secret", "sage secrets add NAME --type T")


def audit_fields(secret: DbSecret) -> dict[str, Any]:
    """A secret as the audit sees it: its plaintext fields, and its encrypted ones as `***`
    (compared by ciphertext, so a new password shows as changed)."""
    return {"type": secret.tipo, "host": secret.servidor, "port": secret.puerto, "user": secret.usuario,
            "database": secret.basedatos, "options": dict(secret.opciones or {}),
            ("access_keys" if secret.tipo == "s3" else "password"): masked(secret.credenciales)}


def store_secret(session: Session, name: str, type: str, host: str | None = None, port: int | None = None,
                 user: str | None = None, database: str | None = None, password: str | None = None,
                 options: Mapping[str, Any] | None = None, *, home: SageHome | None = None,
                 replace: bool = False, keep_password: bool = False) -> tuple[DbSecret, dict[str, Any] | None]:
    """`add_secret` without its audit row, for a change that audits itself as a whole (a server
    and its broker secret are one change). Returns the row and its audit fields before."""
    check_label(name, "secret")
    if type not in SECRET_TYPES:
        raise ConfigError(f"secret {name!r}: type {type!r} is not one of {', '.join(SECRET_TYPES)}", field="type")
    if port is not None and not 0 < int(port) < 65536:
        raise ConfigError(f"secret {name!r}: port {port} is not between 1 and 65535", field="port")
    opts = _check_options(name, options)
    secret = find_named(session, DbSecret, name)
    if secret is not None and not replace:
        raise ConflictError(f"secret {name!r} already exists (remove it first, or add with --replace)",
                            field="name")
    payload = _payload_for(type, user, password)
    if keep_password and secret is not None and not payload and secret.tipo == type:
        ciphertext = secret.credenciales  # an edit that leaves the password field empty keeps it
    else:
        ciphertext = encrypt_secret(home, payload) if payload else None
    before = None if secret is None else audit_fields(secret)
    if secret is None:
        secret = DbSecret(nombre=name)
        session.add(secret)
    secret.tipo, secret.servidor, secret.puerto = type, host, int(port) if port is not None else None
    secret.usuario = None if type == "s3" else user  # an S3 access key id stays encrypted
    secret.basedatos, secret.opciones, secret.credenciales = database, opts, ciphertext
    session.flush()
    return secret, before


def add_secret(session: Session, name: str, type: str, host: str | None = None, port: int | None = None,
               user: str | None = None, database: str | None = None, password: str | None = None,
               options: Mapping[str, Any] | None = None, *, home: SageHome | None = None,
               replace: bool = False, keep_password: bool = False) -> DbSecret:
    """Store a secret; only its password (S3: its keys) is encrypted. `replace` updates in place,
    so connections and lakes that use it follow; with `keep_password` a replace that gives no
    password keeps the stored one (a form's empty password field means "unchanged")."""
    secret, before = store_secret(session, name, type, host, port, user, database, password, options, home=home,
                                  replace=replace, keep_password=keep_password)
    audit(session, "secret.add" if before is None else "secret.replace", f"secret:{name}", before=before,
          after=audit_fields(secret))
    return secret


def secret_payload(session: Session, secret_id: int, *, home: SageHome | None = None) -> dict[str, Any]:
    """The decrypted credentials of one secret. Call only when connecting."""
    secret = session.get(DbSecret, secret_id)
    if secret is None:
        raise ConfigError(f"no secret with id {secret_id}")
    return decrypt_secret(home, secret.credenciales) if secret.credenciales else {}


def list_secrets(session: Session) -> list[DbSecret]:
    """Every secret (never its plaintext); who listed them is audited."""
    secrets = list(session.scalars(select(DbSecret).order_by(DbSecret.nombre)))
    audit(session, "secret.list", "secrets", count=len(secrets))
    return secrets


def show_secret(session: Session, name: str) -> dict[str, Any]:
    """`describe_secret` of secret `name`; who looked is audited."""
    info = describe_secret(get_secret(session, name))
    audit(session, "secret.show", f"secret:{name}")
    return info


def describe_secret(secret: DbSecret) -> dict[str, Any]:
    """Everything a user may see about a secret; encrypted fields show as `********`."""
    info: dict[str, Any] = {
        "name": secret.nombre, "type": secret.tipo, "host": secret.servidor, "port": secret.puerto,
        "user": secret.usuario, "database": secret.basedatos, "options": dict(secret.opciones or {})}
    for field in secret_fields(secret.tipo):
        info[field] = MASKED if secret.credenciales else None
    info["created"], info["updated"] = secret.creado_en, secret.actualizado_en
    return info


def secret_users(session: Session, secret: DbSecret) -> list[str]:
    """Connections, lakes and servers that use `secret` (a secret in use cannot be removed)."""
    users = [f"connection {n}" for n in session.scalars(
        select(DatabaseConnection.nombre).where(DatabaseConnection.secret_id == secret.id))]
    users += [f"lake {n}" for n in session.scalars(select(Lake.nombre).where(Lake.secret_id == secret.id))]
    users += [f"server {n}" for n in session.scalars(
        select(MaterializationServer.nombre).where(MaterializationServer.secret_id == secret.id))]
    return users


def remove_secret(session: Session, name: str) -> None:
    secret = get_secret(session, name)
    remove_audited(session, secret, "secret", name, audit_fields(secret), secret_users(session, secret))


# --------------------------------------------------------------------------- rotation

def rotate_key(home: SageHome | None, session: Session) -> int:
    """Re-encrypt every secret under a new key; returns how many were re-encrypted.

    With a key file, a fresh key is put first in the file (old keys kept, so every process keeps
    decrypting while the re-encryption commits). With `SAGE_SECRET_KEY`: its first key is the new
    one (the operator prepends it, rotates, then removes the old one).
    """
    home = home or SageHome.from_env()
    rotation = Rotation(home)
    count = 0
    for secret in session.scalars(select(DbSecret).where(DbSecret.credenciales.is_not(None))):
        try:
            secret.credenciales = rotation.reencrypt(secret.credenciales)
        except UndecryptableSecret:
            raise SageError(f"secret {secret.nombre!r} cannot be decrypted with the current key list; "
                            "nothing was re-encrypted") from None
        count += 1
    session.flush()
    audit(session, "secret.rotate_key", "secret.key", reencrypted=count, keys=len(rotation.keys),
          source=SECRET_KEY_ENV if rotation.from_env else "file")
    return count


def drop_old_keys(home: SageHome | None, session: Session) -> int:
    """Keep only the newest key in the key file, after checking every secret decrypts with it.

    Run after `rotate_key` has committed. Returns how many old keys were removed.
    """
    home = home or SageHome.from_env()
    stored = {s.nombre: s.credenciales
              for s in session.scalars(select(DbSecret).where(DbSecret.credenciales.is_not(None)))}
    removed = keep_newest_key(home, stored)
    audit(session, "secret.drop_old_keys", "secret.key", removed=removed)
    return removed
