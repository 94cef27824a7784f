"""Data checks a destination answers about a stored table: which rows break a key rule.

Two rules cover what a casilla and a materialization promise about a table: `not_null` (a
primary key or `required` field has a value in every row) and `unique` (no two rows share the
values of a primary key or a `unique` field; rows with a NULL there are the other rule's
business). A destination answers them with its own query language (`SqlDestination`: one
COUNT and one sample query per check, identifiers quoted by the dialect) or, for lakes, over the
table as its own reader returns it (`arrow_violations`).
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.compute as pc

SAMPLE_LIMIT = 5  # offending values shown per failed check


class Rule(str, Enum):
    NOT_NULL = "not_null"
    UNIQUE = "unique"


@dataclass(frozen=True)
class KeyCheck:
    """One rule over some columns: `not_null` of each, or `unique` of them together."""

    rule: Rule
    columns: tuple[str, ...]


@dataclass
class Violations:
    """How many rows (not_null) or key values (unique) break a check, and the first few of them
    as `{column: value}` (unique: plus `rows`, how many rows share the value)."""

    count: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class TableLocation:
    """What Dagster shows as `dagster/table_name` (database.schema.table, or the lake's
    catalog.namespace.table) and `dagster/uri` (a file or a lake table's folder), never
    credentials."""

    name: str
    uri: str | None = None


def plain(value: Any) -> Any:
    """A value as JSON keeps it readable: decimals and dates as text, the rest as they are."""
    if isinstance(value, (decimal.Decimal, dt.date, dt.datetime, dt.time, bytes)):
        return str(value)
    return value


def sample_rows(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    return [{n: plain(v) for n, v in zip(names, row)} for row in rows]


def arrow_violations(data: pa.Table, checks: Sequence[KeyCheck], limit: int = SAMPLE_LIMIT) -> list[Violations]:
    """The checks answered over a table already read (lakes: by their own reader)."""
    return [_arrow_check(data, c, limit) for c in checks]


def _arrow_check(data: pa.Table, check: KeyCheck, limit: int) -> Violations:
    columns = list(check.columns)
    missing = [c for c in columns if c not in data.column_names]
    if missing:  # a column the table never got: every row lacks it
        return Violations(data.num_rows if check.rule is Rule.NOT_NULL else 0,
                          [{c: None for c in columns}] if data.num_rows and check.rule is Rule.NOT_NULL else [])
    keys = data.select(columns)
    if check.rule is Rule.NOT_NULL:
        null = pc.is_null(keys.column(0))
        for name in columns[1:]:
            null = pc.or_(null, pc.is_null(keys.column(name)))
        bad = keys.filter(null)
        return Violations(bad.num_rows, [{c: plain(r[c]) for c in columns} for r in bad.slice(0, limit).to_pylist()])
    present = keys.drop_null()
    counted = present.group_by(columns, use_threads=False).aggregate([([], "count_all")])
    dup = counted.filter(pc.greater(counted["count_all"], 1))
    shown = dup.slice(0, limit).to_pylist()
    return Violations(dup.num_rows, [{**{c: plain(r[c]) for c in columns}, "rows": r["count_all"]} for r in shown])
