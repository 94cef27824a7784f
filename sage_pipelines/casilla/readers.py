"""Find the catalog files of an upload and stream each as typed Arrow record batches.

An upload is one file, a folder of files, or a ZIP package; every file in it is named by the
`filename` of a catalog of the casilla (case-insensitively; in a ZIP members may sit in
subfolders). `upload_members` maps files to catalogs, `read_member` streams one of them with the
declared schema. Readers are lazy: a conversion error surfaces as a `DataError` (file, line,
column, value) while the batches are consumed, so a writer must treat the stream as
all-or-nothing and roll back.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import pyarrow as pa

from sage_pipelines.casilla.csv_reader import read_csv
from sage_pipelines.casilla.excel_reader import read_excel
from sage_pipelines.casilla.model import Catalog, SageYaml
from sage_pipelines.errors import ConfigError
from sage_pipelines.types import Column

DEFAULT_BATCH_ROWS = 65_536
_IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}


@dataclass(frozen=True)
class UploadMember:
    """One catalog file of an upload: a file on disk, or a member of a ZIP package."""

    catalog: Catalog
    name: str  # the file's own name (the catalog's filename, in the upload's spelling)
    size: int  # uncompressed bytes
    path: Path  # the file, or the ZIP package holding it
    member: str | None = None  # the member's path inside the ZIP package
    display: str = field(default="")  # how errors name it: `upload.zip!ventas.csv` or the path

    def __post_init__(self) -> None:
        if not self.display:
            shown = f"{self.path.name}!{self.member}" if self.member else str(self.path)
            object.__setattr__(self, "display", shown)

    def open(self) -> BinaryIO:
        """A fresh binary stream of the file's bytes (use it as a context manager)."""
        if self.member is None:
            return open(self.path, "rb")
        package = zipfile.ZipFile(self.path)
        try:
            # The member stream keeps the archive's file open until it is closed itself.
            return package.open(self.member)  # type: ignore[return-value]
        finally:
            package.close()


def _ignored(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return (any(p.startswith(".") or p == "__MACOSX" for p in parts)
            or PurePosixPath(name).name.lower() in _IGNORED_NAMES)


def _zip_members(sage: SageYaml, package: Path) -> list[UploadMember]:
    try:
        archive = zipfile.ZipFile(package)
    except zipfile.BadZipFile:
        raise ConfigError(f"{package}: not a valid ZIP package") from None
    members = []
    with archive:
        for info in archive.infolist():
            if info.is_dir() or _ignored(info.filename):
                continue
            name = PurePosixPath(info.filename).name
            catalog = sage.catalog_by_filename(name)
            if catalog is None:
                raise ConfigError(f"{package.name}!{info.filename}: no catalog of casilla {sage.name!r} has "
                                  f"this filename (expected one of {_expected(sage)})")
            members.append(UploadMember(catalog, name, info.file_size, package, info.filename))
    return members


def _expected(sage: SageYaml) -> str:
    return ", ".join(c.filename for c in sage.catalogs.values())


def _is_package(sage: SageYaml, path: Path) -> bool:
    return path.suffix.lower() == ".zip" and sage.catalog_by_filename(path.name) is None


def _file_member(sage: SageYaml, path: Path, alone: bool) -> list[UploadMember]:
    if _is_package(sage, path):
        return _zip_members(sage, path)
    catalog = sage.catalog_by_filename(path.name)
    if catalog is None and alone and len(sage.catalogs) == 1:
        catalog = next(iter(sage.catalogs.values()))
    if catalog is None:
        raise ConfigError(f"{path}: no catalog of casilla {sage.name!r} has this filename "
                          f"(expected one of {_expected(sage)})")
    return [UploadMember(catalog, path.name, path.stat().st_size, path)]


def upload_members(sage: SageYaml, path: Path) -> list[UploadMember]:
    """The catalog files of an upload (a file, a folder or a ZIP package), one per catalog."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not _ignored(str(p.relative_to(path))))
        members = [m for p in files for m in _file_member(sage, p, alone=False)]
    elif path.is_file():
        members = _file_member(sage, path, alone=True)
    else:
        raise ConfigError(f"{path}: upload not found")
    seen: dict[str, UploadMember] = {}
    for m in members:
        if m.catalog.key in seen:
            raise ConfigError(f"{m.display}: catalog {m.catalog.key!r} already comes from "
                              f"{seen[m.catalog.key].display}")
        seen[m.catalog.key] = m
    if not members:
        raise ConfigError(f"{path}: the upload holds no files (expected one of {_expected(sage)})")
    return members


def _columns_for(catalog: Catalog, columns: tuple[Column, ...] | None) -> tuple[Column, ...]:
    if columns is None:
        return catalog.columns()
    known = {f.name for f in catalog.fields}
    for c in columns:
        if c.name not in known:
            raise ConfigError(f"column {c.name!r} is not a field of catalog {catalog.key!r}")
    return tuple(columns)


def read_member(member: UploadMember, columns: tuple[Column, ...] | None = None,
                batch_rows: int = DEFAULT_BATCH_ROWS) -> pa.RecordBatchReader:
    """Stream `member` as record batches of `types.arrow_schema(columns)` (default: the catalog's).

    `columns` may override types (e.g. `decimal(12,2)`, `timestamp`) or select a subset of the
    catalog's fields, in any order. Lazy: conversion errors raise `DataError` while reading.
    """
    cols = _columns_for(member.catalog, columns)
    if batch_rows < 1:
        raise ConfigError(f"batch_rows must be positive, got {batch_rows}")
    if member.catalog.file_format.type == "EXCEL":
        return read_excel(member, cols, batch_rows)
    return read_csv(member, cols, batch_rows)


def read_catalog_file(sage: SageYaml, path: Path, catalog_key: str,
                      columns: tuple[Column, ...] | None = None) -> pa.RecordBatchReader:
    """Stream the file of catalog `catalog_key` from the upload at `path`."""
    if catalog_key not in sage.catalogs:
        raise ConfigError(f"unknown catalog {catalog_key!r} (casilla {sage.name!r} has "
                          f"{', '.join(sage.catalogs)})")
    for member in upload_members(sage, Path(path)):
        if member.catalog.key == catalog_key:
            return read_member(member, columns)
    raise ConfigError(f"{path}: the upload holds no file for catalog {catalog_key!r} "
                      f"(filename {sage.catalogs[catalog_key].filename!r})")
