"""Parse a SAGE YAML (`sage_yaml` / `catalogs` / `packages`) into the typed model, strictly.

SAGE installations write these files by hand or by tool; a typo (`heder: true`, `type: numero`)
would otherwise silently change how an upload is read. So every key is checked against the
format, and the first mistake is one `ConfigError` naming the file and the key path, e.g.
`ventas.yaml: catalogs.ventas.fields[2].type: unknown type 'numero'`. Validation rules are kept
verbatim and never evaluated.
"""

from __future__ import annotations

import codecs
import reprlib
from pathlib import Path
from typing import Any, Callable

from sage_pipelines.casilla.model import Catalog, Field, FileFormat, Package, Rule, SageYaml
from sage_pipelines.errors import ConfigError
from sage_pipelines.name_rules import RESERVED_PREFIX, name_problem
from sage_pipelines.safe_yaml import YamlProblem, load_yaml
from sage_pipelines.types import SAGE_TYPES

FILE_TYPES = ("CSV", "EXCEL")
PACKAGE_TYPES = ("ZIP",)
SEVERITIES = ("error", "warning", "info")


class _Ctx:
    """Carries the source name so every error reads `<source>: <key path>: <problem>`."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {where}: {problem}" if where else f"{self.source}: {problem}")

    def mapping(self, value: Any, where: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, got {_kind(value)}")
        for key in value:
            if not isinstance(key, str) or key not in allowed:
                raise self.fail(_join(where, str(key)), f"unknown key (expected one of {', '.join(allowed)})")
        for key in required:
            if value.get(key) is None:
                raise self.fail(_join(where, key), "required key is missing")
        return value

    def text(self, value: Any, where: str, default: str = "", numbers_ok: bool = False) -> str:
        if value is None:
            return default
        if isinstance(value, str):
            return value
        if numbers_ok and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise self.fail(where, f"expected text, got {_kind(value)}")

    def boolean(self, value: Any, where: str, default: bool) -> bool:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        raise self.fail(where, f"expected true or false, got {value!r}")

    def sequence(self, value: Any, where: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {_kind(value)}")
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({value!r})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    return f"{type(value).__name__} {reprlib.repr(value)}"  # shortened: it may be a whole data file


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _rules(ctx: _Ctx, value: Any, where: str) -> tuple[Rule, ...]:
    rules = []
    for i, item in enumerate(ctx.sequence(value, where)):
        at = f"{where}[{i}]"
        raw = ctx.mapping(item, at, ("name", "description", "rule", "severity"), ("name", "rule"))
        severity = ctx.text(raw.get("severity"), f"{at}.severity", "error").strip().lower()
        if severity not in SEVERITIES:
            raise ctx.fail(f"{at}.severity", f"unknown severity {raw['severity']!r} (expected one of "
                                             f"{', '.join(SEVERITIES)})")
        rules.append(Rule(name=ctx.text(raw["name"], f"{at}.name", numbers_ok=True),
                          rule=ctx.text(raw["rule"], f"{at}.rule", numbers_ok=True),
                          description=ctx.text(raw.get("description"), f"{at}.description"),
                          severity=severity))
    return tuple(rules)


def _field(ctx: _Ctx, value: Any, where: str) -> Field:
    raw = ctx.mapping(value, where, ("name", "type", "required", "unique", "validation_rules", "description"),
                      ("name", "type"))
    name = ctx.text(raw["name"], f"{where}.name", numbers_ok=True).strip()
    if not name:
        raise ctx.fail(f"{where}.name", "a field needs a non-empty name")
    problem = name_problem(name)
    if problem:
        raise ctx.fail(f"{where}.name", f"{problem}: {name!r}")
    if name.casefold().startswith(RESERVED_PREFIX):
        raise ctx.fail(f"{where}.name", f"names starting with {RESERVED_PREFIX!r} are reserved for the columns "
                                        f"SAGE adds to every table: {name!r}")
    type_word = ctx.text(raw["type"], f"{where}.type").strip().lower()
    if type_word not in SAGE_TYPES:
        raise ctx.fail(f"{where}.type", f"unknown type {raw['type']!r} (expected one of "
                                        f"{', '.join(SAGE_TYPES)})")
    return Field(name=name, type=type_word,
                 required=ctx.boolean(raw.get("required"), f"{where}.required", False),
                 unique=ctx.boolean(raw.get("unique"), f"{where}.unique", False),
                 validation_rules=_rules(ctx, raw.get("validation_rules"), f"{where}.validation_rules"),
                 description=ctx.text(raw.get("description"), f"{where}.description"))


def _file_format(ctx: _Ctx, value: Any, where: str) -> FileFormat:
    raw = ctx.mapping(value, where, ("type", "delimiter", "header", "encoding", "sheet"), ("type",))
    kind = ctx.text(raw["type"], f"{where}.type").strip().upper()
    if kind not in FILE_TYPES:
        raise ctx.fail(f"{where}.type", f"unknown file type {raw['type']!r} (expected CSV or EXCEL)")
    delimiter = raw.get("delimiter")
    if delimiter is not None:
        delimiter = ctx.text(delimiter, f"{where}.delimiter")
        if len(delimiter) != 1 or delimiter in ('"', "\n", "\r"):
            raise ctx.fail(f"{where}.delimiter", f"expected one character (not a quote or newline), "
                                                 f"got {delimiter!r}")
    if kind == "CSV" and delimiter is None:
        raise ctx.fail(f"{where}.delimiter", "required for CSV files")
    encoding = raw.get("encoding")
    if encoding is not None:
        encoding = ctx.text(encoding, f"{where}.encoding").strip()
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ctx.fail(f"{where}.encoding", f"unknown encoding {encoding!r}") from None
    sheet = raw.get("sheet")
    if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, (str, int))):
        raise ctx.fail(f"{where}.sheet", f"expected a sheet name or index, got {_kind(sheet)}")
    return FileFormat(type=kind, delimiter=delimiter,
                      header=ctx.boolean(raw.get("header"), f"{where}.header", False),
                      encoding=encoding or None, sheet=sheet)


def _catalog(ctx: _Ctx, key: str, value: Any) -> Catalog:
    where = f"catalogs.{key}"
    raw = ctx.mapping(value, where, ("name", "description", "filename", "path", "file_format", "fields",
                                     "row_validation", "catalog_validation"),
                      ("name", "filename", "file_format", "fields"))
    filename = ctx.text(raw["filename"], f"{where}.filename", numbers_ok=True).strip()
    if not filename or "/" in filename or "\\" in filename:
        raise ctx.fail(f"{where}.filename", f"expected a plain file name, got {raw['filename']!r}")
    items = ctx.sequence(raw["fields"], f"{where}.fields")
    if not items:
        raise ctx.fail(f"{where}.fields", "a catalog needs at least one field")
    fields: list[Field] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        f = _field(ctx, item, f"{where}.fields[{i}]")
        folded = f.name.casefold()
        if folded in seen:
            raise ctx.fail(f"{where}.fields[{i}].name",
                           f"duplicate field name {f.name!r} (also fields[{seen[folded]}])")
        seen[folded] = i
        fields.append(f)
    return Catalog(key=key, name=ctx.text(raw["name"], f"{where}.name", numbers_ok=True), filename=filename,
                   file_format=_file_format(ctx, raw["file_format"], f"{where}.file_format"),
                   fields=tuple(fields), description=ctx.text(raw.get("description"), f"{where}.description"),
                   path=ctx.text(raw.get("path"), f"{where}.path") or None,
                   row_validation=_rules(ctx, raw.get("row_validation"), f"{where}.row_validation"),
                   catalog_validation=_rules(ctx, raw.get("catalog_validation"), f"{where}.catalog_validation"))


def _package(ctx: _Ctx, key: str, value: Any, catalogs: dict[str, Catalog]) -> Package:
    where = f"packages.{key}"
    raw = ctx.mapping(value, where, ("name", "description", "file_format", "catalogs", "package_validation"),
                      ("name", "file_format", "catalogs"))
    fmt = ctx.mapping(raw["file_format"], f"{where}.file_format", ("type",), ("type",))
    kind = ctx.text(fmt["type"], f"{where}.file_format.type").strip().upper()
    if kind not in PACKAGE_TYPES:
        raise ctx.fail(f"{where}.file_format.type", f"unknown package type {fmt['type']!r} (expected ZIP)")
    members: list[str] = []
    for i, name in enumerate(ctx.sequence(raw["catalogs"], f"{where}.catalogs")):
        at = f"{where}.catalogs[{i}]"
        name = ctx.text(name, at)
        if name not in catalogs:
            raise ctx.fail(at, f"unknown catalog {name!r} (defined: {', '.join(catalogs)})")
        if name in members:
            raise ctx.fail(at, f"catalog {name!r} listed twice")
        members.append(name)
    if not members:
        raise ctx.fail(f"{where}.catalogs", "a package needs at least one catalog")
    return Package(key=key, name=ctx.text(raw["name"], f"{where}.name", numbers_ok=True),
                   file_format=FileFormat(type=kind), catalogs=tuple(members),
                   description=ctx.text(raw.get("description"), f"{where}.description"),
                   package_validation=_rules(ctx, raw.get("package_validation"), f"{where}.package_validation"))


def _keyed(ctx: _Ctx, value: Any, where: str, build: Callable[[str, Any], Any]) -> dict:
    if not isinstance(value, dict):
        raise ctx.fail(where, f"expected a mapping of keys to definitions, got {_kind(value)}")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise ctx.fail(where, f"keys must be non-empty text, got {key!r}")
        problem = name_problem(key)
        if problem:
            raise ctx.fail(where, f"{problem}: {key!r}")
        out[key] = build(key, item)
    return out


def parse_sage_yaml(text: str, source: str = "<yaml>") -> SageYaml:
    """Parse and validate SAGE YAML text; `source` names the file in error messages."""
    ctx = _Ctx(source)
    try:
        doc = load_yaml(text)
    except YamlProblem as exc:
        where = f"line {exc.line}: " if exc.line is not None else ""
        raise ConfigError(f"{source}: {where}{exc.message}") from None
    top = ctx.mapping(doc, "", ("sage_yaml", "catalogs", "packages"), ("sage_yaml", "catalogs"))
    meta = ctx.mapping(top["sage_yaml"], "sage_yaml", ("name", "description", "version", "author", "comments"),
                       ("name",))
    catalogs = _keyed(ctx, top["catalogs"], "catalogs", lambda k, v: _catalog(ctx, k, v))
    if not catalogs:
        raise ctx.fail("catalogs", "at least one catalog is needed")
    by_file: dict[str, str] = {}
    for key, cat in catalogs.items():
        other = by_file.setdefault(cat.filename.casefold(), key)
        if other != key:
            raise ctx.fail(f"catalogs.{key}.filename", f"{cat.filename!r} is also the filename of catalog {other!r}")
    packages = _keyed(ctx, top.get("packages") or {}, "packages", lambda k, v: _package(ctx, k, v, catalogs))
    return SageYaml(name=ctx.text(meta["name"], "sage_yaml.name", numbers_ok=True), catalogs=catalogs,
                    packages=packages, description=ctx.text(meta.get("description"), "sage_yaml.description"),
                    version=ctx.text(meta.get("version"), "sage_yaml.version", numbers_ok=True),
                    author=ctx.text(meta.get("author"), "sage_yaml.author", numbers_ok=True),
                    comments=ctx.text(meta.get("comments"), "sage_yaml.comments", numbers_ok=True),
                    raw=doc)


def load_sage_yaml(path: str | Path) -> SageYaml:
    """Read and parse a SAGE YAML file (UTF-8, a BOM tolerated)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_sage_yaml(text, source=str(path))
