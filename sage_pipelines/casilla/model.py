"""The SAGE YAML as typed objects (`sage_yaml` / `catalogs` / `packages`).

Validation rules are kept verbatim (SAGE evaluates them upstream; we never `eval` them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sage_pipelines.types import Column, ColumnType, SAGE_TYPES


@dataclass(frozen=True)
class Rule:
    name: str
    rule: str
    description: str = ""
    severity: str = "error"


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # texto | decimal | entero | fecha | booleano
    required: bool = False
    unique: bool = False
    validation_rules: tuple[Rule, ...] = ()
    description: str = ""

    @property
    def column_type(self) -> ColumnType:
        return SAGE_TYPES[self.type]


@dataclass(frozen=True)
class FileFormat:
    type: str  # CSV | EXCEL | ZIP
    delimiter: str | None = None
    header: bool = False
    encoding: str | None = None  # None: BOM -> utf-8-sig, else UTF-8, else Latin-1
    sheet: str | int | None = None


@dataclass(frozen=True)
class Catalog:
    key: str
    name: str
    filename: str
    file_format: FileFormat
    fields: tuple[Field, ...]
    description: str = ""
    path: str | None = None
    row_validation: tuple[Rule, ...] = ()
    catalog_validation: tuple[Rule, ...] = ()

    def columns(self, overrides: dict[str, ColumnType] | None = None) -> tuple[Column, ...]:
        """The catalog's columns in file order, with optional per-column type overrides."""
        overrides = overrides or {}
        return tuple(Column(f.name, overrides.get(f.name, f.column_type)) for f in self.fields)


@dataclass(frozen=True)
class Package:
    key: str
    name: str
    file_format: FileFormat
    catalogs: tuple[str, ...]
    description: str = ""
    package_validation: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class SageYaml:
    name: str
    catalogs: dict[str, Catalog]
    packages: dict[str, Package] = field(default_factory=dict)
    description: str = ""
    version: str = ""
    author: str = ""
    comments: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def catalog_by_filename(self, filename: str) -> Catalog | None:
        """Uploads name their members by the catalog's `filename` (case-insensitive match)."""
        for c in self.catalogs.values():
            if c.filename == filename:
                return c
        low = filename.lower()
        for c in self.catalogs.values():
            if c.filename.lower() == low:
                return c
        return None
