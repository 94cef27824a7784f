"""Reading a materialization YAML into a `MaterializationSpec`: shape, words and defaults.

Only what the document itself can tell is checked here (unknown keys, value types, strategy
words, partition transforms, type overrides, cron, aliases); what needs the casilla or the
store (catalogs, columns, connections, clashes) is `validate`'s job. Every error names the
file and the key path, e.g. `spec.yaml: materialization.tables.ventas.strategy: ...`.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from sage_pipelines.destinations.base import Partitioning, SchemaChange, Strategy
from sage_pipelines.destinations.registry import LAKE_FORMATS
from sage_pipelines.errors import ConfigError
from sage_pipelines.materialization.model import (AUTO_SERVER, DEFAULT_LAKE_FORMAT, STRATEGY_WORDS, DestinationSpec,
                                                  MaterializationSpec, TableConfig, TableTarget)
from sage_pipelines.materialization.names import check_name
from sage_pipelines.name_rules import name_problem
from sage_pipelines.safe_yaml import YamlProblem, load_yaml
from sage_pipelines.types import ColumnType, parse_type

TOP_KEYS = ("materialization",)
MATERIALIZATION_KEYS = ("name", "casilla", "description", "server", "schedule", "destinations", "tables")
DESTINATION_KEYS = ("connection", "lake", "format")
TABLE_KEYS = ("table", "primary_key", "strategy", "delete_by", "partitioning", "schema_change",
              "columns", "destinations")
PARTITIONING_KEYS = ("columns", "transform")
COLUMN_KEYS = ("type",)

_TRANSFORM_RE = re.compile(r"(identity|day|month|year)|(bucket|truncate)\[(\d+)\]")
_TABLE_PART_RE = re.compile(r"[^\s./\\\x00][^./\\\x00]{0,127}")


class _Reader:
    """Walks the parsed YAML, prefixing every error with the file and the key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {path}: {message}", field=path)

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {_kind(value)}")
        for key in value:
            if key not in allowed:
                raise self.fail(f"{path}.{key}", f"unknown key {key!r} (expected one of {', '.join(allowed)})")
        return value

    def text(self, value: Any, path: str) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
            raise self.fail(path, f"expected a non-empty text, got {value!r}")
        return str(value)

    def names(self, value: Any, path: str) -> tuple[str, ...]:
        """A list of column / alias names; a single name is accepted as a list of one."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise self.fail(path, f"expected a non-empty list of names, got {value!r}")
        out = tuple(self.text(v, f"{path}[{i}]") for i, v in enumerate(items))
        dupes = sorted({n for n in out if out.count(n) > 1})
        if dupes:
            raise self.fail(path, f"{dupes[0]!r} is listed twice")
        return out

    def choice(self, value: Any, path: str, words: dict[str, Any], what: str) -> Any:
        word = self.text(value, path).strip().lower()
        if word not in words:
            raise self.fail(path, f"unknown {what} {value!r} (expected one of {', '.join(words)})")
        return words[word]


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"


def load_spec(yaml_text: str, source: str = "<materialization>") -> MaterializationSpec:
    """Parse and normalize a materialization YAML (no store access)."""
    try:
        doc = load_yaml(yaml_text)
    except YamlProblem as exc:
        where = f"{source}, line {exc.line}" if exc.line is not None else source
        raise ConfigError(f"{where}: {exc.message}") from None
    return spec_from_document(doc, source)


def spec_from_document(doc: Any, source: str = "<materialization>") -> MaterializationSpec:
    """Normalize an already parsed document (the YAML's, or a JSON body's: the same checks and messages)."""
    r = _Reader(source)
    top = r.mapping(doc, "(document)", TOP_KEYS)
    if "materialization" not in top:
        raise r.fail("materialization", "missing (the file must start with `materialization:`)")
    return _materialization(r, top["materialization"])


def _materialization(r: _Reader, raw: Any) -> MaterializationSpec:
    p = "materialization"
    m = r.mapping(raw, p, MATERIALIZATION_KEYS)
    for key in ("name", "casilla", "destinations", "tables"):
        if m.get(key) is None:
            raise r.fail(f"{p}.{key}", "missing")
    name = _name(r, m["name"], f"{p}.name")
    casilla = _name(r, m["casilla"], f"{p}.casilla")
    description = "" if m.get("description") is None else str(m["description"])
    server = AUTO_SERVER if m.get("server") is None else r.text(m["server"], f"{p}.server").strip()
    schedule = None if m.get("schedule") is None else _cron(r, m["schedule"], f"{p}.schedule")
    destinations = _destinations(r, m["destinations"], f"{p}.destinations")
    tables = _tables(r, m["tables"], f"{p}.tables", tuple(destinations))
    return MaterializationSpec(name=name, casilla=casilla, description=description, server=server,
                               schedule=schedule, destinations=destinations, tables=tables)


def _name(r: _Reader, value: Any, path: str) -> str:
    return check_name(r.text(value, path), f"{r.source}: {path}")


def _cron(r: _Reader, value: Any, path: str) -> str:
    """Checked by Dagster itself, so what we accept is what a Dagster schedule accepts."""
    text = r.text(value, path).strip()
    import dagster as dg  # heavy: only when a schedule is given

    try:
        dg.ScheduleDefinition(name="check", cron_schedule=text, job_name="check")
    except dg.DagsterInvalidDefinitionError:
        raise r.fail(path, f"bad cron {text!r} (expected 5 fields, e.g. '0 6 * * 1', or @daily)") from None
    return text


def _destinations(r: _Reader, raw: Any, path: str) -> dict[str, DestinationSpec]:
    if not isinstance(raw, dict) or not raw:
        raise r.fail(path, f"expected a non-empty mapping of alias: {{connection: ...}} or "
                           f"{{lake: ..., format: ...}}, got {_kind(raw)}")
    out: dict[str, DestinationSpec] = {}
    for alias, value in raw.items():
        dp = f"{path}.{alias}"
        alias = _name(r, alias, dp)
        d = r.mapping(value, dp, DESTINATION_KEYS)
        if ("connection" in d) == ("lake" in d):
            raise r.fail(dp, "give exactly one of `connection` (a database) or `lake`")
        if "connection" in d:
            if "format" in d:
                raise r.fail(f"{dp}.format", "only a lake destination takes a format")
            out[alias] = DestinationSpec(alias, connection=r.text(d["connection"], f"{dp}.connection"))
        else:
            fmt = DEFAULT_LAKE_FORMAT if d.get("format") is None else d["format"]
            fmt = r.choice(fmt, f"{dp}.format", {f: f for f in LAKE_FORMATS}, "lake format")
            out[alias] = DestinationSpec(alias, lake=r.text(d["lake"], f"{dp}.lake"), format=fmt)
    return out


def _tables(r: _Reader, raw: Any, path: str, aliases: tuple[str, ...]) -> dict[str, TableConfig]:
    if not isinstance(raw, dict) or not raw:
        raise r.fail(path, f"expected a non-empty mapping of catalog key: table config, got {_kind(raw)}")
    out: dict[str, TableConfig] = {}
    for catalog, value in raw.items():
        tp = f"{path}.{catalog}"
        catalog = r.text(catalog, tp)
        out[catalog] = _table(r, catalog, {} if value is None else value, tp, aliases)
    return out


def _table(r: _Reader, catalog: str, raw: Any, p: str, aliases: tuple[str, ...]) -> TableConfig:
    t = r.mapping(raw, p, TABLE_KEYS)

    def opt(key: str, parse: Callable[..., Any], default: Any) -> Any:
        return default if t.get(key) is None else parse(r, t[key], f"{p}.{key}")

    if t.get("strategy") is None:
        raise r.fail(f"{p}.strategy", "missing (upsert | delete_insert | append | truncate_insert)")
    strategy: Strategy = r.choice(t["strategy"], f"{p}.strategy", STRATEGY_WORDS, "strategy")
    primary_key = opt("primary_key", _Reader.names, ())
    delete_by = opt("delete_by", _Reader.names, ())
    if strategy is Strategy.UPSERT and not primary_key:
        raise r.fail(f"{p}.primary_key", "strategy upsert needs a primary_key")
    if strategy is Strategy.DELETE_INSERT and not delete_by:
        key = f"[{', '.join(primary_key)}]" if primary_key else "[<primary key>]"
        raise r.fail(f"{p}.delete_by", "strategy delete_insert needs delete_by, the columns whose values in an "
                                       f"upload pick the rows it replaces (to delete by the primary key, as "
                                       f"before: delete_by: {key})")
    if delete_by and strategy is not Strategy.DELETE_INSERT:
        raise r.fail(f"{p}.delete_by", f"only strategy delete_insert uses delete_by, not {strategy.value}")
    destinations = opt("destinations", _Reader.names, aliases)
    for i, alias in enumerate(destinations):
        if alias not in aliases:
            raise r.fail(f"{p}.destinations[{i}]",
                         f"unknown destination {alias!r} (declared: {', '.join(aliases)})")
    return TableConfig(
        catalog=catalog,
        target=opt("table", _target, None) or _default_target(r, catalog, p),
        strategy=strategy,
        destinations=destinations,
        primary_key=primary_key,
        delete_by=delete_by,
        partitioning=opt("partitioning", _partitioning, None),
        schema_change=opt("schema_change", _schema_change, SchemaChange.EVOLVE),
        columns=opt("columns", _columns, {}),
    )


def _target(r: _Reader, value: Any, path: str) -> TableTarget:
    text = r.text(value, path).strip()
    parts = text.split(".")
    if len(parts) > 2 or not all(_TABLE_PART_RE.fullmatch(x) for x in parts):
        raise r.fail(path, f"bad table {text!r} (expected `name` or `schema.name`, without / or \\)")
    for part in parts:
        problem = name_problem(part)
        if problem:
            raise r.fail(path, f"bad table {text!r}: {problem}")
    return TableTarget.parse(text)


def _default_target(r: _Reader, catalog: str, path: str) -> TableTarget:
    """Without `table:` the catalog key names the table, so it must be a valid table name."""
    if not _TABLE_PART_RE.fullmatch(catalog) or name_problem(catalog):
        raise r.fail(f"{path}.table", f"catalog key {catalog!r} cannot name a table as it is (a table name has "
                                      "no . / \\ and no surrounding spaces): give `table:`")
    return TableTarget(catalog)


def _schema_change(r: _Reader, value: Any, path: str) -> SchemaChange:
    return r.choice(value, path, {s.value: s for s in SchemaChange}, "schema_change")


def _partitioning(r: _Reader, raw: Any, path: str) -> Partitioning:
    d = r.mapping(raw, path, PARTITIONING_KEYS)
    if d.get("columns") is None:
        raise r.fail(f"{path}.columns", "missing")
    columns = r.names(d["columns"], f"{path}.columns")
    transform = "identity" if d.get("transform") is None else r.text(d["transform"], f"{path}.transform")
    m = _TRANSFORM_RE.fullmatch(transform.strip().lower())
    if not m or (m.group(3) is not None and int(m.group(3)) < 1):
        raise r.fail(f"{path}.transform", f"bad partition transform {transform!r} "
                                          "(expected identity, day, month, year, bucket[N] or truncate[N])")
    canonical = m.group(1) or f"{m.group(2)}[{int(m.group(3))}]"
    return Partitioning(columns=columns, transform=canonical)


def _columns(r: _Reader, raw: Any, path: str) -> dict[str, ColumnType]:
    if not isinstance(raw, dict):
        raise r.fail(path, f"expected a mapping of column: {{type: ...}}, got {_kind(raw)}")
    out = {}
    for column, value in raw.items():
        cp = f"{path}.{column}"
        c = r.mapping(value, cp, COLUMN_KEYS)
        if c.get("type") is None:
            raise r.fail(f"{cp}.type", "missing")
        out[r.text(column, cp)] = parse_type(r.text(c["type"], f"{cp}.type"), f"{r.source}: {cp}.type")
    return out
