"""Encrypted secrets: the key, the ciphertext in `db_secrets.credenciales`, and key rotation.

Why Fernet behind a `MultiFernet`: a key list (newest first) lets `rotate_key` put a new key in
front while the old ones still decrypt, re-encrypt every secret, and only then let an operator
drop the old keys — no moment where a running worker cannot read a secret.

The key list comes from `SAGE_SECRET_KEY` (one key or comma-separated keys) or else from
`$SAGE_HOME/secret.key` (one key per line), which must not be readable by group or others.
Plaintext exists only inside `decrypt_secret` / `secret_payload`, called at connect time.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any, Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.errors import ConfigError, SageError
from sage_pipelines.security import remember_secret
from sage_pipelines.settings import SageHome
from sage_pipelines.store.audit import audit
from sage_pipelines.store.lookup import find_named, get_named
from sage_pipelines.store.models import DatabaseConnection, DbSecret, Lake, MaterializationServer

SECRET_KEY_ENV = "SAGE_SECRET_KEY"
DATABASE_TYPES = ("postgresql", "mysql", "sqlserver", "duckdb")
SECRET_TYPES = DATABASE_TYPES + ("s3", "broker")
MASKED = "********"

# Option names that would put a secret in plaintext (`opciones` is not encrypted).
_SECRET_LIKE_OPTION = re.compile(r"pass|secret|token|credential", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}$")


# --------------------------------------------------------------------------- keys

def _key_file_keys(path: Path) -> list[bytes]:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SageError(f"no secret key: {path} does not exist; run `sage init` or set {SECRET_KEY_ENV}") from None
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise SageError(f"{path} is readable by group or others (mode {mode:04o}); "
                        f"run `chmod 600 {path}`")
    lines = path.read_text(encoding="ascii").splitlines()
    keys = [ln.strip().encode() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    if not keys:
        raise SageError(f"{path} holds no key")
    return keys


def load_keys(home: SageHome) -> list[bytes]:
    """The key list, newest first: `SAGE_SECRET_KEY` if set, else `$SAGE_HOME/secret.key`."""
    env = os.environ.get(SECRET_KEY_ENV, "").strip()
    if env:
        keys, where = [k.strip().encode() for k in env.split(",") if k.strip()], SECRET_KEY_ENV
    else:
        keys, where = _key_file_keys(home.secret_key_path), str(home.secret_key_path)
    for i, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise SageError(f"{where}: key {i} is not a Fernet key (32 url-safe base64 bytes)") from None
    return keys


def _multi_fernet(keys: list[bytes]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


def _write_keys(path: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically; the new file is 0600 from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".secret.key.", dir=path.parent)  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"".join(k + b"\n" for k in keys))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_key(home: SageHome) -> Path | None:
    """Create `$SAGE_HOME/secret.key` (0600) unless `SAGE_SECRET_KEY` is set or it exists.

    Returns the key file in use (None when the environment holds the key). An existing key file
    is checked, so a file readable by others is refused here already.
    """
    if os.environ.get(SECRET_KEY_ENV, "").strip():
        load_keys(home)
        return None
    path = home.secret_key_path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another `sage init` won the race: use its key
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key() + b"\n")
    load_keys(home)
    return path


# --------------------------------------------------------------------------- encryption

def encrypt_secret(home: SageHome | None, payload: Mapping[str, Any]) -> bytes:
    """Fernet ciphertext of `payload` (a JSON object) under the newest key."""
    home = home or SageHome.from_env()
    return _multi_fernet(load_keys(home)).encrypt(json.dumps(dict(payload), sort_keys=True).encode())


def decrypt_secret(home: SageHome | None, ciphertext: bytes) -> dict[str, Any]:
    """The payload inside `ciphertext`. Refuses (SageError) when no key in the list fits."""
    home = home or SageHome.from_env()
    try:
        plain = _multi_fernet(load_keys(home)).decrypt(bytes(ciphertext))
    except InvalidToken:
        raise SageError("a stored secret cannot be decrypted with the current key list "
                        f"({SECRET_KEY_ENV} or secret.key); was the key replaced?") from None
    payload = json.loads(plain)
    remember_secret(*(str(v) for v in payload.values() if v is not None))
    return payload


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
                              "stored in plaintext; pass it as the password instead")
        clean[str(key)] = str(value)
    return clean


def get_secret(session: Session, name: str) -> DbSecret:
    return get_named(session, DbSecret, name, "secret", "sage secrets add NAME --type T")


def add_secret(session: Session, name: str, type: str, host: str | None = None, port: int | None = None,
               user: str | None = None, database: str | None = None, password: str | None = None,
               options: Mapping[str, Any] | None = None, *, home: SageHome | None = None,
               replace: bool = False) -> DbSecret:
    """Store a secret; only its password (S3: its keys) is encrypted. `replace` updates in place,
    so connections and lakes that use it follow."""
    if not _NAME.match(name or ""):
        raise ConfigError(f"secret name {name!r}: use letters, digits, '_', '-' or '.'")
    if type not in SECRET_TYPES:
        raise ConfigError(f"secret {name!r}: type {type!r} is not one of {', '.join(SECRET_TYPES)}")
    if port is not None and not 0 < int(port) < 65536:
        raise ConfigError(f"secret {name!r}: port {port} is not between 1 and 65535")
    opts = _check_options(name, options)
    payload = _payload_for(type, user, password)
    ciphertext = encrypt_secret(home, payload) if payload else None
    secret = find_named(session, DbSecret, name)
    if secret is not None and not replace:
        raise ConfigError(f"secret {name!r} already exists (remove it first, or add with --replace)")
    action = "secret.replace" if secret is not None else "secret.add"
    if secret is None:
        secret = DbSecret(nombre=name)
        session.add(secret)
    secret.tipo, secret.servidor, secret.puerto = type, host, int(port) if port is not None else None
    secret.usuario = None if type == "s3" else user  # an S3 access key id stays encrypted
    secret.basedatos, secret.opciones, secret.credenciales = database, opts, ciphertext
    session.flush()
    audit(session, action, f"secret:{name}", tipo=type, servidor=host, puerto=secret.puerto,
          usuario=secret.usuario, basedatos=database, opciones=sorted(opts), cifrado=sorted(payload))
    return secret


def secret_payload(session: Session, secret_id: int, *, home: SageHome | None = None) -> dict[str, Any]:
    """The decrypted credentials of one secret. Call only when connecting."""
    secret = session.get(DbSecret, secret_id)
    if secret is None:
        raise ConfigError(f"no secret with id {secret_id}")
    return decrypt_secret(home, secret.credenciales) if secret.credenciales else {}


def list_secrets(session: Session) -> list[DbSecret]:
    return list(session.scalars(select(DbSecret).order_by(DbSecret.nombre)))


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
    users = secret_users(session, secret)
    if users:
        raise ConfigError(f"secret {name!r} is used by {', '.join(users)}; remove those first")
    session.delete(secret)
    audit(session, "secret.remove", f"secret:{name}", tipo=secret.tipo)


# --------------------------------------------------------------------------- rotation

def rotate_key(home: SageHome | None, session: Session) -> int:
    """Re-encrypt every secret under a new key; returns how many were re-encrypted.

    With a key file: a fresh key is put first in the file (old keys kept, so every process keeps
    decrypting while the re-encryption commits). With `SAGE_SECRET_KEY`: its first key is the new
    one (the operator prepends it, rotates, then removes the old one).
    """
    home = home or SageHome.from_env()
    from_env = bool(os.environ.get(SECRET_KEY_ENV, "").strip())
    keys = load_keys(home)
    if not from_env:
        keys = [Fernet.generate_key()] + keys
        _write_keys(home.secret_key_path, keys)
    mf = _multi_fernet(keys)
    count = 0
    for secret in session.scalars(select(DbSecret).where(DbSecret.credenciales.is_not(None))):
        try:
            secret.credenciales = mf.rotate(bytes(secret.credenciales))
        except InvalidToken:
            raise SageError(f"secret {secret.nombre!r} cannot be decrypted with the current key list; "
                            "nothing was re-encrypted") from None
        count += 1
    session.flush()
    audit(session, "secret.rotate_key", "secret.key", reencrypted=count, keys=len(keys),
          source=SECRET_KEY_ENV if from_env else "file")
    return count


def drop_old_keys(home: SageHome | None, session: Session) -> int:
    """Keep only the newest key in the key file, after checking every secret decrypts with it.

    Run after `rotate_key` has committed. Returns how many old keys were removed.
    """
    home = home or SageHome.from_env()
    if os.environ.get(SECRET_KEY_ENV, "").strip():
        raise SageError(f"the keys come from {SECRET_KEY_ENV}; remove old keys there")
    keys = load_keys(home)
    newest = Fernet(keys[0])
    for secret in session.scalars(select(DbSecret).where(DbSecret.credenciales.is_not(None))):
        try:
            newest.decrypt(bytes(secret.credenciales))
        except InvalidToken:
            raise SageError(f"secret {secret.nombre!r} is not yet encrypted with the newest key; "
                            "run `sage secrets rotate-key` first") from None
    _write_keys(home.secret_key_path, keys[:1])
    audit(session, "secret.drop_old_keys", "secret.key", removed=len(keys) - 1)
    return len(keys) - 1
