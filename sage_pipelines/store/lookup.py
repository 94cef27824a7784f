"""Finding a store row by its `nombre`, with the one-line error users get when it is missing."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.errors import ConfigError

T = TypeVar("T")


def find_named(session: Session, model: type[T], name: str) -> T | None:
    return session.scalar(select(model).where(model.nombre == name))  # type: ignore[attr-defined]


def get_named(session: Session, model: type[T], name: str, what: str, how_to_add: str) -> T:
    """The row of `model` named `name`, or a ConfigError listing the registered names."""
    row = find_named(session, model, name)
    if row is None:
        known = session.scalars(select(model.nombre).order_by(model.nombre)).all()  # type: ignore[attr-defined]
        raise ConfigError(f"unknown {what} {name!r} (registered: {', '.join(known) or 'none'}; "
                          f"add one with `{how_to_add}`)")
    return row
