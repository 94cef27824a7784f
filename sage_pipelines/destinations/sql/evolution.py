"""What to do to an existing table so an upload fits it: nothing, add columns, widen types.

Pure decisions over data (the table's columns as read from the catalog, the upload's declared
columns), so they are tested without a database and shared by every dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sage_pipelines.destinations.base import SchemaChange
from sage_pipelines.errors import SchemaChangeError
from sage_pipelines.types import Column, ColumnType


@dataclass(frozen=True)
class Wanted:
    """A column the upload needs, with the type this database will store for it."""

    column: Column
    stored: ColumnType


@dataclass
class SchemaPlan:
    add: list[Wanted] = field(default_factory=list)
    widen: list[Wanted] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.add and not self.widen


def plan_changes(table: str, existing: dict[str, ColumnType | None], wanted: list[Wanted],
                 policy: SchemaChange, fold=lambda n: n) -> SchemaPlan:
    """Compare an existing table with what the upload needs.

    `existing` maps folded column names to their logical type (None: a type sage does not map,
    left as it is). Columns the table has and the upload lacks are not touched: they get NULL.
    Under `freeze` any needed change raises SchemaChangeError naming the columns, before anything
    is written.
    """
    plan = SchemaPlan()
    for w in wanted:
        have = existing.get(fold(w.column.name), "missing")
        if have == "missing":
            plan.add.append(w)
        elif have is None or have == w.stored or w.stored.can_widen_to(have):
            continue  # equal, unknown, or the upload's values fit the wider column already there
        elif have.can_widen_to(w.stored):
            plan.widen.append(w)
        else:
            raise SchemaChangeError(
                f"table {table}: column {w.column.name!r} is {have} in the table but the upload "
                f"declares {w.column.type}; these types are not compatible")
    if policy is SchemaChange.FREEZE and not plan.empty:
        changes = [f"new column {w.column.name!r} ({w.column.type})" for w in plan.add]
        changes += [f"column {w.column.name!r} widened to {w.column.type}" for w in plan.widen]
        raise SchemaChangeError(f"table {table} has schema_change: freeze but the upload needs: "
                                + "; ".join(changes))
    return plan
