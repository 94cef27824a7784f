"""Partition transforms as the materialization YAML spells them, parsed once for every lake.

`partitioning: {columns: [fecha], transform: month}` names one transform for all its columns:
identity, day, month, year, bucket[N] or truncate[N]. Each lake format maps the parsed
transform to its own notion (an Iceberg partition spec, Delta `partition_by` columns, Hudi
partition paths) and declares which transforms it supports in its `Capabilities`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sage_pipelines.destinations.base import Partitioning
from sage_pipelines.errors import ConfigError

TRANSFORMS: frozenset[str] = frozenset({"identity", "day", "month", "year", "bucket", "truncate"})
_WITH_WIDTH = frozenset({"bucket", "truncate"})
_TRANSFORM_RE = re.compile(r"^\s*([a-z]+)\s*(?:\[\s*(\d+)\s*\])?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Transform:
    """One parsed transform: its name and, for bucket / truncate, the width N."""

    name: str
    width: int | None = None

    def __str__(self) -> str:
        return f"{self.name}[{self.width}]" if self.width is not None else self.name


def parse_transform(text: str, where: str = "partitioning.transform") -> Transform:
    """`month` -> Transform("month"); `bucket[16]` -> Transform("bucket", 16)."""
    m = _TRANSFORM_RE.match(str(text or "identity"))
    name = m.group(1).lower() if m else ""
    if not m or name not in TRANSFORMS:
        raise ConfigError(f"{where}: unknown transform {text!r} "
                          "(expected identity, day, month, year, bucket[N] or truncate[N])")
    width = int(m.group(2)) if m.group(2) else None
    if (name in _WITH_WIDTH) != (width is not None) or width == 0:
        raise ConfigError(f"{where}: {text!r}: bucket and truncate need a positive [N]; "
                          "the other transforms take none")
    return Transform(name, width)


def partition_fields(partitioning: Partitioning | None, columns: list[str] | tuple[str, ...],
                     table: str) -> list[tuple[str, Transform]]:
    """(column, transform) pairs of a table's partitioning, checked against its columns."""
    if partitioning is None or not partitioning.columns:
        return []
    transform = parse_transform(partitioning.transform, f"{table}: partitioning.transform")
    missing = [c for c in partitioning.columns if c not in columns]
    if missing:
        raise ConfigError(f"{table}: partitioning column {missing[0]!r} is not a column of the table")
    return [(c, transform) for c in partitioning.columns]
