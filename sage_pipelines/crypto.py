"""Encryption of stored credentials: the key list, Fernet ciphertext, and key rotation.

Why Fernet behind a `MultiFernet`: a key list (newest first) lets a rotation put a new key in
front while the old ones still decrypt, re-encrypt every secret, and only then let an operator
drop the old keys — no moment where a running worker cannot read a secret.

The key list comes from `SAGE_SECRET_KEY` (one key or comma-separated keys) or else from
`$SAGE_HOME/secret.key` (one key per line), which must not be readable by group or others.
Plaintext exists only inside `decrypt_secret`, called at connect time.

This module is core: it knows keys and ciphertext, never the store's rows (which secrets exist,
who uses them and the audit trail are `services.secrets`).
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from sage_pipelines.errors import SageError
from sage_pipelines.security import remember_secret
from sage_pipelines.settings import SageHome

SECRET_KEY_ENV = "SAGE_SECRET_KEY"


class UndecryptableSecret(SageError):
    """No key of the list decrypts a ciphertext (the key was replaced, or the row was altered)."""


def keys_from_env() -> bool:
    """Whether the key list comes from `SAGE_SECRET_KEY` rather than the key file."""
    return bool(os.environ.get(SECRET_KEY_ENV, "").strip())


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
    if keys_from_env():
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
        raise UndecryptableSecret("a stored secret cannot be decrypted with the current key list "
                                  f"({SECRET_KEY_ENV} or secret.key); was the key replaced?") from None
    payload = json.loads(plain)
    remember_secret(*(str(v) for v in payload.values() if v is not None))
    return payload


class Rotation:
    """One key rotation: a new key first in the list, then each ciphertext re-encrypted under it.

    With a key file, a fresh key is put first in the file when the rotation starts (old keys
    kept, so every process keeps decrypting while the re-encryption commits). With
    `SAGE_SECRET_KEY`, its first key is the new one (the operator prepends it, rotates, then
    removes the old one).
    """

    def __init__(self, home: SageHome) -> None:
        self.from_env = keys_from_env()
        keys = load_keys(home)
        if not self.from_env:
            keys = [Fernet.generate_key()] + keys
            _write_keys(home.secret_key_path, keys)
        self.keys = keys
        self._fernet = _multi_fernet(keys)

    def reencrypt(self, ciphertext: bytes) -> bytes:
        try:
            return self._fernet.rotate(bytes(ciphertext))
        except InvalidToken:
            raise UndecryptableSecret("cannot be decrypted with the current key list") from None


def keep_newest_key(home: SageHome, ciphertexts: Mapping[str, bytes]) -> int:
    """Rewrite the key file with only its newest key, after checking that every ciphertext of
    `ciphertexts` (secret name -> ciphertext) decrypts with it. Returns how many old keys went."""
    if keys_from_env():
        raise SageError(f"the keys come from {SECRET_KEY_ENV}; remove old keys there")
    keys = load_keys(home)
    newest = Fernet(keys[0])
    for name, ciphertext in ciphertexts.items():
        try:
            newest.decrypt(bytes(ciphertext))
        except InvalidToken:
            raise SageError(f"secret {name!r} is not yet encrypted with the newest key; "
                            "run `sage secrets rotate-key` first") from None
    _write_keys(home.secret_key_path, keys[:1])
    return len(keys) - 1
