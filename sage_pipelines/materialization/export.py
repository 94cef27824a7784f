"""Printing a spec back as canonical YAML: every default spelled out, one fixed key order.

`apply(export(x))` stores exactly `x` again and exports the same text: the canonical form is
what `load_spec` produces, written with the same keys the user writes.
"""

from __future__ import annotations

from typing import Any

import yaml

from sage_pipelines.materialization.model import MaterializationSpec, TableConfig


def spec_to_dict(spec: MaterializationSpec) -> dict[str, Any]:
    m: dict[str, Any] = {"name": spec.name, "casilla": spec.casilla}
    if spec.description:
        m["description"] = spec.description
    m["server"] = spec.server
    if spec.schedule:
        m["schedule"] = spec.schedule
    m["destinations"] = {
        alias: ({"connection": d.connection} if d.connection is not None
                else {"lake": d.lake, "format": d.format})
        for alias, d in spec.destinations.items()}
    m["tables"] = {key: _table_to_dict(t) for key, t in spec.tables.items()}
    return {"materialization": m}


def _table_to_dict(t: TableConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"table": str(t.target), "strategy": t.strategy.value}
    if t.primary_key:
        out["primary_key"] = list(t.primary_key)
    if t.delete_by:
        out["delete_by"] = list(t.delete_by)
    if t.partitioning is not None:
        out["partitioning"] = {"columns": list(t.partitioning.columns), "transform": t.partitioning.transform}
    out["schema_change"] = t.schema_change.value
    if t.columns:
        out["columns"] = {name: {"type": str(ct)} for name, ct in t.columns.items()}
    out["destinations"] = list(t.destinations)
    return out


def dump_spec(spec: MaterializationSpec) -> str:
    """Leaf lists and mappings in flow style (`[id_venta]`, `{connection: analytics}`), as in the docs."""
    return yaml.safe_dump(spec_to_dict(spec), sort_keys=False, allow_unicode=True,
                          default_flow_style=None, width=100)
