"""Finding a store row by its `nombre`, with the one-line error users get when it is missing."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.errors import NotFoundError
from sage_pipelines.store.models import Materialization, MaterializationDestination

T = TypeVar("T")


def find_named(session: Session, model: type[T], name: str) -> T | None:
    return session.scalar(select(model).where(model.nombre == name))  # type: ignore[attr-defined]


def get_named(session: Session, model: type[T], name: str, what: str, how_to_add: str) -> T:
    """The row of `model` named `name`, or a NotFoundError listing the registered names."""
    row = find_named(session, model, name)
    if row is None:
        known = session.scalars(select(model.nombre).order_by(model.nombre)).all()  # type: ignore[attr-defined]
        raise NotFoundError(f"unknown {what} {name!r} (registered: {', '.join(known) or 'none'}; "
                          f"add one with `{how_to_add}`)")
    return row


def materializations_writing_to(session: Session, *, connection_id: int | None = None,
                                lake_id: int | None = None) -> list[str]:
    """`materialization NAME` for each materialization with a destination on that connection or lake."""
    column = (MaterializationDestination.connection_id if connection_id is not None
              else MaterializationDestination.lake_id)
    names = session.scalars(select(Materialization.nombre).join(MaterializationDestination)
                            .where(column == (connection_id if connection_id is not None else lake_id))
                            .distinct().order_by(Materialization.nombre))
    return [f"materialization {n}" for n in names]
