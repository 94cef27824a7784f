"""What the demo's tables hold after a week, read back through each destination's own reader, and
what a delete_insert table's week did to it, told by its `delete_by` values: `semana 1: 2,000
rows deleted and replaced by 1,800; semana 2: 2,000 new rows`.

The figures come from the tables themselves (rows per `delete_by` value before and after, and
which of them carry the upload's `_sage_upload_id`), not from the run's metadata: the story is
what a reader of the tables would find.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from sage_pipelines.destinations.base import UPLOAD_ID_COLUMN, Strategy
from sage_pipelines.materialization.plan import load_plans
from sage_pipelines.orchestration.naming import table_key
from sage_pipelines.services.destinations import open_destination
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope


@dataclass(frozen=True)
class TableState:
    label: str  # `destination:table`, e.g. `warehouse:fact_ventas`
    asset: tuple[str, ...]  # its Dagster asset key
    rows: int
    delete_by: tuple[str, ...] = ()  # a delete_insert table's; empty for the others
    by_key: dict[tuple, int] = field(default_factory=dict)  # rows per delete_by value
    upload_by_key: dict[tuple, int] = field(default_factory=dict)  # of them, written by the upload


def read_tables(home: SageHome, casilla: str, upload_id: str | None = None) -> dict[str, TableState]:
    """Every table of `casilla`'s materializations, by label, as it is now."""
    states = {}
    with session_scope(home) as session:
        for plan in load_plans(session):
            if plan.casilla != casilla:
                continue
            for table in plan.tables:
                ref, spec = table.destination, table.spec
                data = open_destination(session, connection=ref.connection, lake=ref.lake,
                                        format=ref.format).read(spec)
                label = f"{ref.alias}:{spec.qualified_name}"
                state = TableState(label, tuple(table_key(casilla, table).path), data.num_rows)
                if spec.strategy is Strategy.DELETE_INSERT:
                    mine = data.filter(pc.equal(data[UPLOAD_ID_COLUMN], upload_id)) if upload_id else data.slice(0, 0)
                    state = TableState(label, state.asset, state.rows, spec.delete_by,
                                       _rows_per_value(data, spec.delete_by), _rows_per_value(mine, spec.delete_by))
                states[label] = state
    return states


def _rows_per_value(data: pa.Table, columns: tuple[str, ...]) -> dict[tuple, int]:
    counted = data.group_by(list(columns)).aggregate([([], "count_all")])
    values = zip(*(counted[c].to_pylist() for c in columns))
    return dict(zip(values, counted["count_all"].to_pylist()))


def replacements(before: TableState | None, after: TableState) -> str:
    """What the upload did to a delete_insert table, per `delete_by` value it carried."""
    parts = []
    for value, written in sorted(after.upload_by_key.items()):
        name = ", ".join(f"{c} {v}" for c, v in zip(after.delete_by, value))
        replaced = before.by_key.get(value, 0) if before else 0
        parts.append(f"{name}: {replaced:,} rows deleted and replaced by {written:,}" if replaced
                     else f"{name}: {written:,} new rows")
    return "; ".join(parts)
