"""The one schema-evolution planner: what a write does to an existing table's columns.

Every destination asks it the same question in the same logical types: here are the table's
columns (read from its catalog: information_schema, the Iceberg or Delta schema, a Hudi commit's
`sage.columns`) and the upload's; under `schema_change: evolve | freeze`, what happens to each
column? The answer is a `SchemaPlan`, one `ColumnPlan` per column, with one action each:

- `add`: a column new to the table; added, nullable (rows written before have no value).
- `widen`: the upload's type holds every value of the table's (`ColumnType.can_widen_to`); the
  table's column becomes the upload's type.
- `cast`: the table's type holds every value of the upload's; the values are cast up on the way in
  and the table does not change.
- `keep`: the same type (or one sage does not model, left to the database), or a nullable table
  column the upload lacks: NULL on inserted rows, the old value on rows an upsert updates.
- `refuse`: anything else, with a one-line reason naming the table and the column.

The rules, the same for every destination:
- `freeze`: the table's columns never change. An upload lacking a nullable column is accepted;
  lacking a NOT NULL column, bringing a new column, or needing a wider type is refused.
- `evolve`: new columns are added (nullable) and types widened; a missing NOT NULL column, types
  that do not widen either way, and (where a format cannot re-key, `fixed`) a key or partition
  column changing type are refused.
- either way, an upload type narrower than the table's is cast up (the table is unchanged).

Pure: no I/O, no destination code. The destination applies the plan with its own DDL or
table-format API, and does so only after `check()`, so a refusal happens before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Collection, Sequence

from sage_pipelines.destinations.base import SchemaChange
from sage_pipelines.errors import SchemaChangeError
from sage_pipelines.types import Column, ColumnType


class Action(str, Enum):
    ADD = "add"
    WIDEN = "widen"
    CAST = "cast"
    KEEP = "keep"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Unmodeled:
    """A table column whose stored type has no logical equivalent (say PostgreSQL `jsonb`): it is
    never compared, only kept; the database converts the upload's values on insert."""

    name: str
    nullable: bool = True


@dataclass(frozen=True)
class ColumnPlan:
    """What happens to one column. `name` is the table's spelling (the upload's for `add`)."""

    name: str
    action: Action
    table_type: ColumnType | None = None  # None: new to the table, or a type sage does not model
    upload_type: ColumnType | None = None  # None: the upload lacks the column
    nullable: bool = True  # in the table after the write
    reason: str = ""  # `refuse` only

    @property
    def type(self) -> ColumnType | None:
        """The column's logical type after the write (None: left as the database has it)."""
        return self.upload_type if self.action in (Action.ADD, Action.WIDEN) else self.table_type

    @property
    def absent(self) -> bool:
        """The table has the column and the upload does not."""
        return self.upload_type is None and self.action is not Action.ADD


@dataclass(frozen=True)
class SchemaPlan:
    """The plan for one write. `new_table`: there is no table yet; every column is `add`."""

    table: str
    columns: tuple[ColumnPlan, ...]
    new_table: bool = False

    def _with(self, action: Action) -> list[ColumnPlan]:
        return [c for c in self.columns if c.action is action]

    @property
    def added(self) -> list[ColumnPlan]:
        return self._with(Action.ADD)

    @property
    def widened(self) -> list[ColumnPlan]:
        return self._with(Action.WIDEN)

    @property
    def cast(self) -> list[ColumnPlan]:
        return self._with(Action.CAST)

    @property
    def refused(self) -> list[ColumnPlan]:
        return self._with(Action.REFUSE)

    @property
    def absent(self) -> list[str]:
        """Table columns the upload lacks: NULL on inserted rows, kept on updated rows."""
        return [c.name for c in self.columns if c.absent]

    @property
    def changes_table(self) -> bool:
        return bool(self.added or self.widened)

    @property
    def target(self) -> tuple[Column, ...]:
        """The table's columns after the write: its own in order, then the added ones."""
        if any(c.type is None for c in self.columns):
            raise ValueError(f"table {self.table}: a column of a type sage does not model has no target")
        return tuple(Column(c.name, c.type, c.nullable) for c in self.columns)

    @property
    def reason(self) -> str:
        return f"table {self.table}: " + "; ".join(c.reason for c in self.refused) if self.refused else ""

    def check(self) -> "SchemaPlan":
        """The plan itself, or `SchemaChangeError` (one line) when any column is refused."""
        if self.refused:
            raise SchemaChangeError(self.reason)
        return self


def _same(name: str) -> str:
    return name


def plan_schema(table: str, existing: Sequence[Column | Unmodeled] | None, upload: Sequence[Column],
                policy: SchemaChange, *, fold: Callable[[str], str] = _same,
                fixed: Collection[str] = ()) -> SchemaPlan:
    """Plan writing an upload of columns `upload` into a table of columns `existing` (None: no
    table yet). `table` names the table in messages; `fold` is how the destination compares
    names (case-insensitive databases: `str.lower`); `fixed` names columns whose type the format
    cannot change (Hudi's record key and partition columns).
    """
    if existing is None:
        return SchemaPlan(table, tuple(ColumnPlan(c.name, Action.ADD, None, c.type, c.nullable)
                                       for c in upload), new_table=True)
    freeze = policy is SchemaChange.FREEZE
    incoming = {fold(c.name): c for c in upload}
    pinned = {fold(n) for n in fixed}
    plans = [_existing_column(old, incoming.get(fold(old.name)), freeze, fold(old.name) in pinned)
             for old in existing]
    known = {fold(c.name) for c in existing}
    for c in upload:
        if fold(c.name) in known:
            continue
        if freeze:
            plans.append(ColumnPlan(c.name, Action.REFUSE, None, c.type, reason=(
                f"schema_change is freeze but the upload brings a new column {c.name!r} ({c.type})")))
        else:
            plans.append(ColumnPlan(c.name, Action.ADD, None, c.type, nullable=True))
    return SchemaPlan(table, tuple(plans))


def _existing_column(old: Column | Unmodeled, new: Column | None, freeze: bool, fixed: bool) -> ColumnPlan:
    have = old.type if isinstance(old, Column) else None
    name, nullable = old.name, old.nullable
    if new is None:
        if nullable:
            return ColumnPlan(name, Action.KEEP, have, None, nullable)
        return ColumnPlan(name, Action.REFUSE, have, None, nullable, reason=(
            f"column {name!r} is NOT NULL in the table but missing from the upload"))
    want = new.type
    if have is None or have == want:
        return ColumnPlan(name, Action.KEEP, have, want, nullable)
    if want.can_widen_to(have):
        return ColumnPlan(name, Action.CAST, have, want, nullable)
    if have.can_widen_to(want):
        if freeze:
            reason = (f"schema_change is freeze but column {name!r} would widen from {have} to {want}")
        elif fixed:
            reason = f"key or partition column {name!r} cannot change type ({have} -> {want}) here"
        else:
            return ColumnPlan(name, Action.WIDEN, have, want, nullable)
        return ColumnPlan(name, Action.REFUSE, have, want, nullable, reason=reason)
    return ColumnPlan(name, Action.REFUSE, have, want, nullable, reason=(
        f"column {name!r} is {have} in the table but {want} in the upload; "
        "neither type holds the other's values"))
