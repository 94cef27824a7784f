"""The materialization form as data: flat form values <-> the materialization YAML document.

One path serves both directions. A page is pre-filled with flat values from a spec (the stored
one, or `analyze`'s proposal, which has no destination yet) and a submitted form is flat values too; `document` turns flat
values into the document `materializations apply` takes, so the YAML preview beside the form
and what Save stores are the same text. Field names follow the YAML's key paths
(`tables.ventas.primary_key`), so a service error naming a key path lands beside its field.

Destinations are one row per registered connection and lake, named by kind and name
(`dest.connection.analytics.use`), each with the alias the YAML will use; each table has one
"write to" checkbox per row (`tables.ventas.dest.connection.analytics`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import yaml

from sage_pipelines.casilla.model import SageYaml
from sage_pipelines.errors import ConfigError
from sage_pipelines.materialization.model import AUTO_SERVER, DEFAULT_LAKE_FORMAT, MaterializationSpec
from sage_pipelines.web.forms import FORM, key_path

SOURCE = "console"  # how errors name the document (`console: materialization.tables...`)
STRATEGIES = ("upsert", "delete_insert", "append", "truncate_insert")
SCHEMA_CHANGES = ("evolve", "freeze")
TRANSFORMS = ("identity", "day", "month", "year", "bucket[16]", "truncate[4]")
ON = "on"


@dataclass(frozen=True)
class DestinationRow:
    """A registered connection or lake the materialization may write to."""

    kind: str  # connection | lake
    target: str  # its registered name
    detail: str  # what the row shows beside the name (kind of database, warehouse URI)
    default_alias: str

    @property
    def key(self) -> str:
        return f"{self.kind}.{self.target}"

    @property
    def is_lake(self) -> bool:
        return self.kind == "lake"


def alias_for(name: str, taken: Iterable[str] = ()) -> str:
    """A destination alias from a name: letters, digits and underscores, unique among `taken`."""
    alias = (re.sub(r"[^A-Za-z0-9_]", "_", name) or "destination")[:60]
    taken = set(taken)
    base, n = alias, 2
    while alias in taken:
        alias, n = f"{base}_{n}", n + 1
    return alias


def destination_rows(connections: Iterable[tuple[str, str]], lakes: Iterable[tuple[str, str]]) -> list[DestinationRow]:
    """One row per (name, detail) of the registered connections, then of the lakes."""
    rows: list[DestinationRow] = []
    for kind, items in (("connection", connections), ("lake", lakes)):
        for name, detail in items:
            rows.append(DestinationRow(kind, name, detail, alias_for(name, (r.default_alias for r in rows))))
    return rows


def values_from_spec(spec: MaterializationSpec, sage: SageYaml, rows: list[DestinationRow]) -> dict[str, str]:
    """The flat values of a stored materialization."""
    v: dict[str, str] = {"name": spec.name, "description": spec.description, "server": spec.server,
                         "schedule": spec.schedule or ""}
    used: dict[str, str] = {}  # row key -> alias
    for alias, d in spec.destinations.items():
        key = f"connection.{d.connection}" if d.connection is not None else f"lake.{d.lake}"
        if key in used:
            continue
        used[key] = alias
        v.update({f"dest.{key}.use": ON, f"dest.{key}.alias": alias})
        if d.format:
            v[f"dest.{key}.format"] = d.format
    for row in rows:
        v.setdefault(f"dest.{row.key}.alias", row.default_alias)
    for key in sage.catalogs:
        t = spec.tables.get(key)
        if t is None:
            _table_defaults(v, key, rows)
            continue
        v.update({f"tables.{key}.include": ON, f"tables.{key}.table": str(t.target),
                  f"tables.{key}.strategy": t.strategy.value, f"tables.{key}.primary_key": ", ".join(t.primary_key),
                  f"tables.{key}.delete_by": ", ".join(t.delete_by), f"tables.{key}.schema_change": t.schema_change.value})
        if t.partitioning is not None:
            v[f"tables.{key}.partitioning.columns"] = ", ".join(t.partitioning.columns)
            v[f"tables.{key}.partitioning.transform"] = t.partitioning.transform
        for column, ctype in t.columns.items():
            v[f"tables.{key}.columns.{column}"] = str(ctype)
        for row in rows:
            if row.key not in used or used[row.key] in t.destinations:
                v[f"tables.{key}.dest.{row.key}"] = ON
    return v


def _table_defaults(v: dict[str, str], key: str, rows: list[DestinationRow]) -> None:
    """A catalog without a proposal: left out, but ready to be switched on."""
    v.update({f"tables.{key}.table": key, f"tables.{key}.strategy": "append", f"tables.{key}.schema_change": "evolve"})
    for row in rows:
        v[f"tables.{key}.dest.{row.key}"] = ON


def _get(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    return value.strip() if isinstance(value, str) else ""


def _names(values: Mapping[str, Any], name: str) -> list[str]:
    return [p.strip() for p in _get(values, name).split(",") if p.strip()]


def document(values: Mapping[str, Any], casilla: str, sage: SageYaml, rows: list[DestinationRow]) -> dict[str, Any]:
    """The materialization document the flat values describe (what `apply` takes)."""
    m: dict[str, Any] = {"name": _get(values, "name") or casilla, "casilla": casilla}
    for key in ("description", "schedule"):
        if _get(values, key):
            m[key] = _get(values, key)
    m["server"] = _get(values, "server") or AUTO_SERVER
    destinations: dict[str, dict[str, str]] = {}
    aliases: dict[str, str] = {}  # row key -> alias, for the rows in use
    for row in rows:
        if _get(values, f"dest.{row.key}.use") != ON:
            continue
        alias = _get(values, f"dest.{row.key}.alias") or row.default_alias
        if alias in destinations:
            raise ConfigError(f"{SOURCE}: materialization.destinations.{alias}: two destinations use the alias "
                              f"{alias!r}; give each its own")
        aliases[row.key] = alias
        fmt = _get(values, f"dest.{row.key}.format") or DEFAULT_LAKE_FORMAT
        destinations[alias] = {"lake": row.target, "format": fmt} if row.is_lake else {"connection": row.target}
    m["destinations"] = destinations
    tables: dict[str, Any] = {}
    for key, catalog in sage.catalogs.items():
        p = f"tables.{key}"
        if _get(values, f"{p}.include") != ON:
            continue
        t: dict[str, Any] = {}
        if _get(values, f"{p}.table"):
            t["table"] = _get(values, f"{p}.table")
        t["strategy"] = _get(values, f"{p}.strategy") or None
        for name in ("primary_key", "delete_by"):
            if _names(values, f"{p}.{name}"):
                t[name] = _names(values, f"{p}.{name}")
        if _names(values, f"{p}.partitioning.columns"):
            t["partitioning"] = {"columns": _names(values, f"{p}.partitioning.columns")}
            if _get(values, f"{p}.partitioning.transform"):
                t["partitioning"]["transform"] = _get(values, f"{p}.partitioning.transform")
        t["schema_change"] = _get(values, f"{p}.schema_change") or "evolve"
        columns = {}
        for f in catalog.fields:
            override = _get(values, f"{p}.columns.{f.name}")
            if override and override != str(f.column_type):
                columns[f.name] = {"type": override}
        if columns:
            t["columns"] = columns
        chosen = [alias for row_key, alias in aliases.items() if _get(values, f"{p}.dest.{row_key}") == ON]
        if chosen != list(aliases.values()):
            t["destinations"] = chosen
        tables[key] = t
    m["tables"] = tables
    return {"materialization": m}


def document_yaml(doc: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(doc), sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def error_field(message: str, rows: list[DestinationRow], values: Mapping[str, Any]) -> str:
    """The form field a materialization error names (by its key path), else the form's top."""
    path = key_path(message)
    if path is None:
        return FORM
    parts = path.split(".")
    if parts[0] == "tables" and len(parts) >= 2:
        for key in sorted((k for k in _catalog_keys(values)), key=len, reverse=True):
            if path == f"tables.{key}" or path.startswith(f"tables.{key}."):
                rest = path[len(f"tables.{key}"):].lstrip(".")
                return _table_field(key, rest)
        return "tables"
    if parts[0] == "destinations":
        alias = parts[1] if len(parts) > 1 else None
        for row in rows:
            if alias and _get(values, f"dest.{row.key}.use") == ON and \
                    (_get(values, f"dest.{row.key}.alias") or row.default_alias) == alias:
                return f"dest.{row.key}.alias"
        return "destinations"
    return parts[0] if parts[0] in ("name", "casilla", "description", "server", "schedule") else FORM


def _catalog_keys(values: Mapping[str, Any]) -> set[str]:
    return {name[len("tables."):-len(".strategy")] for name in values
            if name.startswith("tables.") and name.endswith(".strategy")}


def _table_field(key: str, rest: str) -> str:
    p = f"tables.{key}"
    if not rest:
        return p
    if rest.startswith("columns."):
        column = rest[len("columns."):]
        return f"{p}.columns.{column.removesuffix('.type')}"
    if rest.startswith("partitioning"):
        return f"{p}.partitioning.transform" if rest.endswith("transform") else f"{p}.partitioning.columns"
    return f"{p}.{rest.split('.')[0]}"

