"""Find the catalog files of an upload and stream each as typed Arrow record batches.

An upload is one file, a folder of files, or a ZIP package; every file in it is named by the
`filename` of a catalog of the casilla (case-insensitively; in a ZIP members may sit in
subfolders). `upload_members` maps files to catalogs, `read_member` streams one of them with the
declared schema. Readers are lazy: a conversion error surfaces as a `DataError` (file, line,
column, value) while the batches are consumed, so a writer must treat the stream as
all-or-nothing and roll back.

ZIP packages are never extracted: members are streamed from the package. Even so, a package
whose member paths would leave a folder (`../x.csv`, `/etc/x.csv`, `C:\\x.csv`), that nests
another ZIP, that is encrypted or uses an unknown compression, or whose member declares far more
bytes than deflate can produce from its compressed size (a ZIP bomb) is refused when it is
listed, before anything is copied; a member damaged inside (bad CRC, truncated data) is a
`DataError` while it is read. In a folder upload, a symbolic link that points outside the folder
is refused (it would copy or read a file the uploader never meant to share).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import pyarrow as pa

from sage_pipelines.casilla.csv_reader import read_csv
from sage_pipelines.casilla.excel_reader import read_excel
from sage_pipelines.casilla.model import Catalog, SageYaml
from sage_pipelines.errors import ConfigError, DataError
from sage_pipelines.types import Column

DEFAULT_BATCH_ROWS = 65_536
_IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
# Deflate cannot expand more than about 1032:1; a member declaring more (and more than a few
# MB, so tiny files with headers of their own are not judged) is a bomb or a lie.
MAX_ZIP_RATIO = 1000
_RATIO_FLOOR = 4 << 20
_READABLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_DRIVE = re.compile(r"^[A-Za-z]:")


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
            return _MemberStream(package.open(self.member), self.display)  # type: ignore[return-value]
        finally:
            package.close()


class _MemberStream(io.RawIOBase):
    """A ZIP member's stream whose damage (bad CRC, truncated or corrupt data) is a DataError
    naming the member, wherever it is read (pyarrow passes Python exceptions through)."""

    def __init__(self, stream: BinaryIO, display: str) -> None:
        super().__init__()
        self.stream, self.display = stream, display

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self.stream.read(size)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            raise DataError(self.display, None, None, None, f"the ZIP member is damaged ({exc})") from None

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.stream.close()
        super().close()


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
            _check_member(package, info)
            if info.is_dir() or _ignored(info.filename):
                continue
            name = PurePosixPath(info.filename).name
            catalog = sage.catalog_by_filename(name)
            if catalog is None and name.lower().endswith(".zip"):
                raise ConfigError(f"{package.name}!{info.filename}: a ZIP package inside a ZIP package is not "
                                  "read (put its files in the outer package)")
            if catalog is None:
                raise ConfigError(f"{package.name}!{info.filename}: no catalog of casilla {sage.name!r} has "
                                  f"this filename (expected one of {_expected(sage)})")
            members.append(UploadMember(catalog, name, info.file_size, package, info.filename))
    return members


def _check_member(package: Path, info: zipfile.ZipInfo) -> None:
    """Refuse a member that could escape a folder, cannot be read, or expands like a bomb."""
    where = f"{package.name}!{info.filename}"
    path = info.filename.replace("\\", "/")
    if path.startswith("/") or _DRIVE.match(path) or ".." in path.split("/"):
        raise ConfigError(f"{where}: a member path that is absolute or climbs with '..' is refused")
    if info.flag_bits & 0x1:
        raise ConfigError(f"{where}: encrypted ZIP members are not read")
    if info.compress_type not in _READABLE_METHODS:
        raise ConfigError(f"{where}: unsupported ZIP compression method {info.compress_type}")
    if info.file_size > _RATIO_FLOOR and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
        raise ConfigError(f"{where}: declares {info.file_size} bytes from {info.compress_size} compressed "
                          f"(more than {MAX_ZIP_RATIO}:1), refused as a likely ZIP bomb")


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
        _refuse_links_out(path)
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


def _refuse_links_out(folder: Path) -> None:
    """A symbolic link inside an upload folder must stay inside it."""
    root = folder.resolve()
    for p in folder.rglob("*"):
        if p.is_symlink() and not p.resolve().is_relative_to(root):
            raise ConfigError(f"{p}: a symbolic link that points outside the upload folder is refused")


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
