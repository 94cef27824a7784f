"""Who is acting, and the one audit row each change makes.

The actor is set once, where a request enters: the CLI's `main` (`cli:<os user>`, source `cli`),
the API's token check (the user's name, source `api` and the client's address), the pages'
login (source `web`). It is a context variable, so every service reads it instead of taking it
as an argument; where no entry point set one (Dagster's sensors, the demo) the actor is
`system:<os user>`.

A service describes a change as the fields of the thing before and after it (`None` for
"did not exist"); `audit` keeps the fields that changed. Values wrapped in `Masked` (passwords,
access keys) are compared by their ciphertext and stored as `***`, so the audit says that a
password changed and never what it is.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import getpass
import os
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from sqlalchemy.orm import Session

from sage_pipelines.errors import ConfigError, ConflictError
from sage_pipelines.security import MASK
from sage_pipelines.store.audit import query_audit, record_audit
from sage_pipelines.store.models import AuditLog

SOURCES = ("cli", "api", "web", "system")


@dataclass(frozen=True)
class Actor:
    name: str  # a user's name, or `cli:<os user>` / `system:<os user>`
    source: str  # one of SOURCES
    client: str | None = None  # the client's address (api, web)


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def cli_actor() -> Actor:
    """Whoever runs `sage` on this SAGE_HOME: its local admin (they hold the key file)."""
    return Actor(f"cli:{os_user()}", "cli")


def system_actor() -> Actor:
    return Actor(f"system:{os_user()}", "system")


_ACTOR: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("sage_actor", default=None)


def current_actor() -> Actor:
    return _ACTOR.get() or system_actor()


def set_actor(actor: Actor) -> contextvars.Token:
    """Make `actor` the actor of everything that follows in this context (a request, a command).

    In an ASGI app call it from an `async` dependency or middleware: a sync one runs in a worker
    thread's copy of the context, and the value would not reach the handler.
    """
    return _ACTOR.set(actor)


@contextlib.contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _ACTOR.set(actor)
    try:
        yield actor
    finally:
        _ACTOR.reset(token)


class Masked:
    """A secret field's value in a before/after: compared by `value` (e.g. its ciphertext), stored as `***`."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Masked) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return MASK


def masked(value: Any) -> Masked | None:
    """`Masked(value)`, or None when there is no secret (so "no password" stays visible)."""
    return None if value is None else Masked(value)


def _plain(value: Any) -> Any:
    """A JSON-safe copy with every `Masked` value as `***`."""
    if isinstance(value, Masked):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return MASK  # raw bytes are ciphertext or keys: never written out
    return value


def changed_fields(before: Mapping[str, Any] | None,
                   after: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(before, after) restricted to the fields whose value changed, secrets as `***`.
    A thing created has no before; a thing removed has no after."""
    if before is None or after is None:
        return (None if before is None else _plain(before)), (None if after is None else _plain(after))
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    return _plain({k: before.get(k) for k in keys}), _plain({k: after.get(k) for k in keys})


def audit(session: Session, action: str, obj: str, *, before: Mapping[str, Any] | None = None,
          after: Mapping[str, Any] | None = None, **detail: Any) -> AuditLog:
    """Record one change (or an audited read) by the current actor, in the caller's transaction.

    `before` / `after` are the thing's fields around the change (wrap secrets in `Masked`);
    `detail` is context that is not a field (the source file, counts) and must hold no secret.
    """
    actor = current_actor()
    antes, despues = changed_fields(before, after)
    return record_audit(session, action, obj, _plain(detail), actor=actor.name, origen=actor.source,
                        cliente=actor.client, antes=antes, despues=despues)


def remove_audited(session: Session, row: Any, kind: str, name: str, before: Mapping[str, Any],
                   used_by: list[str] = (), fix: str = "remove those first") -> None:
    """Delete `row` (the `kind` named `name`) as one audited change, unless something uses it:
    then a ConflictError names the users and `fix`, and nothing changes."""
    if used_by:
        raise ConflictError(f"{kind} {name!r} is used by {', '.join(used_by)}; {fix}")
    session.delete(row)
    session.flush()
    audit(session, f"{kind}.remove", f"{kind}:{name}", before=before)


def list_audit(session: Session, *, obj: str | None = None, actor: str | None = None,
               since: dt.datetime | None = None, limit: int = 100) -> list[AuditLog]:
    """The newest audit rows, filtered by object (`secret:pg` or `pg`), actor and time."""
    if limit < 1:
        raise ConfigError(f"limit must be at least 1, not {limit}", field="limit")
    return query_audit(session, objeto=obj, actor=actor, since=since, limit=min(limit, 1000))
