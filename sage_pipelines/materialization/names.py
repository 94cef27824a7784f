"""Names that become file paths, Dagster asset keys or job names must be safe for all three.

A casilla name is a landing folder (`landing/<casilla>/`) and part of every asset key; a
materialization name and a destination alias end up in Dagster job, schedule and asset names,
which Dagster restricts to letters, digits and underscores. An upload id is a folder and a
dynamic partition key. Checking once here means no `..` or `/` ever reaches a path.
"""

from __future__ import annotations

import re
import reprlib

from sage_pipelines.errors import ConfigError

NAME_RE = re.compile(r"[A-Za-z0-9_]{1,64}")
LABEL_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}")  # secrets, connections, lakes: also a URL path segment
UPLOAD_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_name(value: object, where: str) -> str:
    """A casilla / materialization / destination name: 1-64 letters, digits or underscores."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise ConfigError(f"{where}: invalid name {reprlib.repr(value)} (use 1-64 letters, digits or underscores)")
    return value


def check_label(value: object, what: str) -> str:
    """A secret / connection / lake name: a letter, digit or `_`, then letters, digits, `_`, `.`, `-` (max 200)."""
    if not isinstance(value, str) or not LABEL_RE.fullmatch(value):
        raise ConfigError(f"{what} name {reprlib.repr(value)}: use letters, digits, '_', '-' or '.'", field="name")
    return value


def dagster_name(text: str) -> str:
    """`text` as a Dagster name (letters, digits and underscores, not starting with a digit)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if name and not name[0].isdigit() else f"_{name}"


def asset_title(target: str, lake_alias: str | None, casilla: str) -> str:
    """The last part of a table's asset key, what Dagster's graph titles it with: the table as the
    materialization names it (`dim_clientes`, `ventas.fact_ventas`). A lake's tables carry the lake
    destination's alias (`lake.fact_ventas`), since a lake usually holds the same tables as a
    warehouse; their namespace shows only when it is not the casilla's (the default)."""
    parts = target.split(".")
    if lake_alias is not None:
        parts = [lake_alias] + (parts[1:] if len(parts) == 2 and parts[0] == casilla else parts)
    return ".".join(dagster_name(part) for part in parts)


def check_upload_id(value: object, where: str = "upload id") -> str:
    """An upload id: starts with a letter or digit, then letters, digits, `_`, `.`, `-` (max 64)."""
    if not isinstance(value, str) or not UPLOAD_ID_RE.fullmatch(value):
        raise ConfigError(f"{where}: invalid upload id {reprlib.repr(value)} (expected "
                          "[A-Za-z0-9][A-Za-z0-9_.-]{0,63}, e.g. 20261129T061502Z-3f9a1c)")
    return value
