"""Users, roles, API tokens, and who may do what.

A user has one role: `admin` (everything), `operator` (casillas, materializations, uploads and
runs, and reading), `viewer` (reading only; of a secret only its name and type). `PERMISSIONS`
is that table as data: the API's routes and the pages both ask `authorize(principal, name)`.

A token is `sage_<id>_<secret>`: printed once by `create_token`; the store keeps only a salt
and HMAC-SHA256(salt, secret). The secret is 256 random bits, so a fast keyed hash is enough
(a slow password hash protects guessable passwords, and would cost every request). A missing,
malformed, wrong, expired or revoked token, or one of a disabled user, is one and the same
`AuthenticationError`, so a caller learns nothing about which tokens exist.

`admit` is the whole check an entry point makes (authenticate, authorize, audit a refusal in
its own transaction); it leaves setting the actor (`services.audit.set_actor`) to the caller.
The CLI needs none of this: it acts as the local admin of its SAGE_HOME.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.errors import ConfigError, ConflictError, NotFoundError, SageError
from sage_pipelines.services.audit import Actor, acting_as, audit
from sage_pipelines.services.durations import utcnow
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.lookup import find_named, get_named
from sage_pipelines.store.models import Token, User

ADMIN, OPERATOR, VIEWER = "admin", "operator", "viewer"
ROLES = (ADMIN, OPERATOR, VIEWER)
ANONYMOUS = "anonymous"  # the actor of a request whose token was refused

TOKEN_PREFIX = "sage_"
_TOKEN = re.compile(r"sage_([1-9][0-9]{0,17})_([A-Za-z0-9_\-]{43})")
USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@\-]{0,199}")
_LAST_USE_EVERY = dt.timedelta(minutes=1)  # how often `ultimo_uso` is rewritten (one write a minute, not per request)


@dataclass(frozen=True)
class Permission:
    name: str
    does: str  # what it allows, as the end of "may not ..." and a README row
    roles: frozenset[str]


def _permissions(*items: tuple[str, str, tuple[str, ...]]) -> dict[str, Permission]:
    return {name: Permission(name, does, frozenset(roles)) for name, does, roles in items}


PERMISSIONS: Mapping[str, Permission] = _permissions(
    ("read", "read casillas, materializations, connections, lakes, servers, uploads, runs and history; "
             "a secret's name and type", ROLES),
    ("secrets.read", "see a secret's host, port, user, database and options, and a connection test's message",
     (ADMIN,)),
    ("audit.read", "read the audit log", (ADMIN,)),
    ("secrets.write", "add, change, rotate the key of, or remove secrets", (ADMIN,)),
    ("connections.write", "add, change, test or remove connections", (ADMIN,)),
    ("lakes.write", "add, change or remove lakes", (ADMIN,)),
    ("servers.write", "add or remove servers", (ADMIN,)),
    ("casillas.write", "register or update casillas", (ADMIN, OPERATOR)),
    ("materializations.write", "analyze samples, apply or remove materializations", (ADMIN, OPERATOR)),
    ("uploads.write", "add uploads", (ADMIN, OPERATOR)),
    ("runs.write", "start runs", (ADMIN, OPERATOR)),
)


class AuthenticationError(SageError):
    """No valid token: missing, malformed, wrong, expired, revoked, or its user is disabled."""

    def __init__(self) -> None:
        super().__init__("a valid API token is required (missing, wrong, expired or revoked); "
                         "create one with `sage tokens create USER`")


class Forbidden(SageError):
    """The user's role does not allow this."""


@dataclass(frozen=True)
class Principal:
    user: str
    role: str
    token_id: int | None = None

    def can(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission].roles

    def actor(self, source: str, client: str | None = None) -> Actor:
        return Actor(self.user, source, client)


# --------------------------------------------------------------------------- users

def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError(f"role {role!r} is not one of {', '.join(ROLES)}", field="role")
    return role


def get_user(session: Session, name: str) -> User:
    return get_named(session, User, name, "user", "sage users add NAME --role ROLE")


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.nombre)))


def _user_fields(user: User) -> dict[str, object]:
    return {"role": user.rol, "active": user.activo}


def add_user(session: Session, name: str, role: str, *, replace: bool = False) -> User:
    """Add user `name` with `role`; `replace` changes an existing user's role (and re-enables it)."""
    if not isinstance(name, str) or not USER_NAME.fullmatch(name):
        raise ConfigError(f"user name {name!r}: use letters, digits, '_', '-', '.' or '@' "
                          "(at most 200)", field="name")
    _check_role(role)
    user = find_named(session, User, name)
    if user is not None and not replace:
        raise ConflictError(f"user {name!r} already exists (use --replace to change its role)", field="name")
    before = None if user is None else _user_fields(user)
    if user is None:
        user = User(nombre=name)
        session.add(user)
    user.rol, user.activo = role, True
    session.flush()
    audit(session, "user.add" if before is None else "user.replace", f"user:{name}", before=before,
          after=_user_fields(user))
    return user


# --------------------------------------------------------------------------- tokens

def _digest(salt: bytes, secret: str) -> bytes:
    return hmac.new(salt, secret.encode("ascii"), hashlib.sha256).digest()


def token_state(token: Token, now: dt.datetime | None = None) -> str:
    """`active`, `expired` or `revoked`."""
    now = now or utcnow()
    if token.revocado_en is not None:
        return "revoked"
    if token.expira_en is not None and token.expira_en <= now:
        return "expired"
    return "active"


def create_token(session: Session, user: User | str, expires: dt.timedelta | None = None,
                 description: str = "") -> str:
    """A new token for `user`, valid for `expires` (None: until revoked). Returned once: only
    its salted hash is stored."""
    row = get_user(session, user) if isinstance(user, str) else user
    if expires is not None and expires <= dt.timedelta(0):
        raise ConfigError("--expires must be a positive duration", field="expires")
    secret = secrets.token_urlsafe(32)  # 43 characters of [A-Za-z0-9_-]
    salt = secrets.token_bytes(16)
    token = Token(user_id=row.id, sal=salt, hash=_digest(salt, secret), descripcion=description[:200],
                  expira_en=None if expires is None else utcnow() + expires)
    session.add(token)
    session.flush()
    audit(session, "token.create", f"token:{token.id}", after={
        "user": row.nombre, "expires": token.expira_en, "description": token.descripcion})
    return f"{TOKEN_PREFIX}{token.id}_{secret}"


def list_tokens(session: Session, user: str | None = None) -> list[Token]:
    query = select(Token).order_by(Token.id)
    if user is not None:
        query = query.where(Token.user_id == get_user(session, user).id)
    return list(session.scalars(query))


def revoke_token(session: Session, token_id: int) -> Token:
    token = session.get(Token, token_id)
    if token is None:
        raise NotFoundError(f"unknown token {token_id} (see `sage tokens list`)", field="id")
    if token.revocado_en is not None:
        raise ConflictError(f"token {token_id} is already revoked", field="id")
    before = {"state": token_state(token)}
    token.revocado_en = utcnow()
    session.flush()
    audit(session, "token.revoke", f"token:{token_id}", before=before, after={"state": "revoked"},
          user=token.user.nombre)
    return token


def authenticate(session: Session, token: str | None) -> Principal:
    """The principal a token stands for, or `AuthenticationError` (one error for every reason)."""
    match = _TOKEN.fullmatch(token or "")
    row = session.get(Token, int(match.group(1))) if match else None
    expected = row.hash if row is not None else b"\0" * 32
    given = _digest(row.sal if row is not None else b"\0" * 16, match.group(2) if match else "")
    now = utcnow()
    if (row is None or not hmac.compare_digest(expected, given) or token_state(row, now) != "active"
            or not row.user.activo):
        raise AuthenticationError()
    if row.ultimo_uso is None or now - row.ultimo_uso > _LAST_USE_EVERY:
        row.ultimo_uso = now
    return Principal(row.user.nombre, row.user.rol, row.id)


def authorize(principal: Principal, permission: str) -> Principal:
    """`principal`, if its role has `permission`; else `Forbidden` naming what was refused."""
    if not principal.can(permission):
        raise Forbidden(f"user {principal.user!r} ({principal.role}) may not "
                        f"{PERMISSIONS[permission].does}")
    return principal


def admit(home: SageHome, token: str | None, permission: str, obj: str, source: str,
          client: str | None = None) -> Principal:
    """Authenticate `token` and authorize `permission`; a refusal is audited (action
    `auth.unauthenticated` or `auth.forbidden`, object `obj`, e.g. `POST /api/v1/secrets`) in a
    transaction of its own, then raised."""
    principal: Principal | None = None
    with session_scope(home) as session:
        try:
            principal = authenticate(session, token)
            return authorize(principal, permission)
        except (AuthenticationError, Forbidden) as exc:
            refused = exc
    actor = principal.actor(source, client) if principal is not None else Actor(ANONYMOUS, source, client)
    with session_scope(home) as session, acting_as(actor):
        audit(session, "auth.forbidden" if isinstance(refused, Forbidden) else "auth.unauthenticated", obj,
              permission=permission, reason=str(refused))
    raise refused
