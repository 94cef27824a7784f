"""Where a Hudi table lives and what `.hoodie/hoodie.properties` says about it.

A table is `<warehouse>/<namespace>/<table>/`. Paths go through a pyarrow filesystem, so a
`file://` warehouse (or a plain local path) works out of the box and `s3://` works with the
lake's storage options (translated by `lake.storage`; hudi-rs takes the same object_store
keys as deltalake). Writers of one table on one host take turns: `lock()` takes an exclusive
`fcntl.flock` on `.hoodie/.aux/sage.lock` (a folder Hudi itself reserves for auxiliary files,
which readers ignore). On object stores, where no file lock exists, and with option
`hudi.lock: none`, it serializes the writers of this process only; other processes are caught by
the timeline's optimistic check before the commit (`timeline.ConcurrentCommit`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import zlib
from dataclasses import dataclass
from typing import Iterator, Mapping

import pyarrow.fs as pafs

from sage_pipelines.destinations.base import LakeSettings
from sage_pipelines.destinations.hudi.settings import HudiSettings
from sage_pipelines.destinations.lake.storage import delta_storage_options, filesystem, scheme, table_uri
from sage_pipelines.errors import DestinationError

HOODIE = ".hoodie"
PROPERTIES = "hoodie.properties"
AUX = ".hoodie/.aux"
METADATA_TABLE = ".hoodie/metadata"
PARTITION_METADATA = ".hoodie_partition_metadata"
TABLE_VERSION = "6"
KEYGEN = "org.apache.hudi.keygen."

_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


@dataclass(frozen=True)
class TableLocation:
    """The filesystem, the base path inside it, and the URI hudi-rs opens."""

    fs: pafs.FileSystem
    base: str  # base path inside `fs`, no trailing slash
    uri: str  # what hudi-rs's HudiTableBuilder opens
    storage_options: Mapping[str, str]
    local: bool
    host_lock: bool = False  # writers on this host take turns on a file lock

    @classmethod
    def of(cls, settings: LakeSettings, namespace: str, table: str) -> "TableLocation":
        uri = table_uri(settings.warehouse, namespace, table)  # checks the names
        lock = HudiSettings.of(settings).lock
        fs, root = filesystem(settings)
        base = f"{root}/{namespace}/{table}"
        if scheme(settings.warehouse) == "file":
            return cls(fs, base, base, {}, True, host_lock=lock != "none")
        return cls(fs, base, uri, delta_storage_options(settings) or {}, False)

    def path(self, *parts: str) -> str:
        return "/".join([self.base, *[p for p in parts if p]])

    def exists(self, *parts: str) -> bool:
        return self.fs.get_file_info(self.path(*parts)).type != pafs.FileType.NotFound

    def write_bytes(self, relative: str, data: bytes) -> None:
        with self.fs.open_output_stream(self.path(relative)) as out:
            out.write(data)

    def read_bytes(self, relative: str) -> bytes:
        with self.fs.open_input_stream(self.path(relative)) as f:
            return f.read()

    def delete(self, relative: str) -> None:
        with contextlib.suppress(FileNotFoundError, OSError):
            self.fs.delete_file(self.path(relative))

    def list_names(self, relative: str) -> list[str]:
        """Names of the files directly inside a folder of the table (none if it is missing)."""
        infos = self.fs.get_file_info(pafs.FileSelector(self.path(relative), allow_not_found=True))
        return [i.base_name for i in infos if i.type == pafs.FileType.File]

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive writer lock on this table for the duration of one write."""
        if self.host_lock and self.local:
            os.makedirs(self.path(AUX), exist_ok=True)
            with open(self.path(AUX, "sage.lock"), "a+") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return
        with _process_locks_guard:
            lock = _process_locks.setdefault(self.uri, threading.Lock())
        with lock:
            yield


# Time transforms: the partition path value (strftime) and Hudi's TimestampBasedKeyGenerator format.
TIME_TRANSFORMS: dict[str, tuple[str, str]] = {
    "day": ("%Y-%m-%d", "yyyy-MM-dd"), "month": ("%Y-%m", "yyyy-MM"), "year": ("%Y", "yyyy")}


@dataclass(frozen=True)
class PartitionSpec:
    """The partition columns and their transform: identity, or day / month / year of the one
    date or timestamp column (Hudi's TimestampBasedKeyGenerator, path `fecha=2024-01`)."""

    fields: tuple[str, ...] = ()
    transform: str = "identity"
    timestamp: bool = False  # time transforms: the column is a timestamp (else a date)

    def properties(self) -> dict[str, str]:
        if not self.fields:
            return {}
        props = {"hoodie.table.partition.fields": ",".join(self.fields),
                 "hoodie.datasource.write.partitionpath.field": ",".join(self.fields)}
        if self.transform in TIME_TRANSFORMS:
            props.update({
                "hoodie.keygen.timebased.timestamp.type": "EPOCHMICROSECONDS" if self.timestamp else "SCALAR",
                "hoodie.keygen.timebased.timestamp.scalar.time.unit": "DAYS",
                "hoodie.keygen.timebased.output.dateformat": TIME_TRANSFORMS[self.transform][1],
                "hoodie.keygen.timebased.timezone": "UTC",
                "hoodie.keygen.timebased.output.timezone": "UTC"})
        return props

    @staticmethod
    def stored(props: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
        """(fields, transform) as recorded in an existing table's properties."""
        fields = tuple(p for p in props.get("hoodie.table.partition.fields", "").split(",") if p)
        fmt = props.get("hoodie.keygen.timebased.output.dateformat")
        transform = next((t for t, (_, f) in TIME_TRANSFORMS.items() if f == fmt), "identity")
        return fields, transform


@dataclass(frozen=True)
class TableProperties:
    """The subset of `hoodie.properties` this writer creates and checks."""

    name: str
    database: str
    record_key_fields: tuple[str, ...]
    partitioning: PartitionSpec
    precombine_field: str

    @property
    def key_generator(self) -> str:
        if not self.partitioning.fields:
            return KEYGEN + "NonpartitionedKeyGenerator"
        if self.partitioning.transform in TIME_TRANSFORMS:
            return KEYGEN + "TimestampBasedKeyGenerator"
        if len(self.record_key_fields) == 1 and len(self.partitioning.fields) == 1:
            return KEYGEN + "SimpleKeyGenerator"
        return KEYGEN + "ComplexKeyGenerator"

    def render(self) -> bytes:
        props = {
            "hoodie.table.name": self.name,
            "hoodie.database.name": self.database,
            "hoodie.table.type": "COPY_ON_WRITE",
            "hoodie.table.version": TABLE_VERSION,
            "hoodie.timeline.layout.version": "1",
            "hoodie.table.base.file.format": "PARQUET",
            "hoodie.archivelog.folder": "archived",
            "hoodie.table.recordkey.fields": ",".join(self.record_key_fields),
            "hoodie.table.precombine.field": self.precombine_field,
            "hoodie.table.keygenerator.class": self.key_generator,
            "hoodie.datasource.write.hive_style_partitioning": "true",
            "hoodie.datasource.write.partitionpath.urlencode": "false",
            "hoodie.datasource.write.drop.partition.columns": "false",
            "hoodie.populate.meta.fields": "true",
            "hoodie.table.timeline.timezone": "UTC",
            "hoodie.table.metadata.partitions": "",
            "hoodie.table.checksum": str(zlib.crc32(f"{self.database}.{self.name}".encode())),
        }
        props.update(self.partitioning.properties())
        lines = ["#Properties saved by sage-pipelines (Hudi table version 6, copy-on-write)"]
        lines += [f"{k}={_escape(v)}" for k, v in props.items()]
        return ("\n".join(lines) + "\n").encode("utf-8")

    @staticmethod
    def parse(data: bytes) -> dict[str, str]:
        props: dict[str, str] = {}
        for line in data.decode("utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith(("#", "!")) or "=" not in line:
                continue
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip().replace("\\:", ":").replace("\\=", "=").replace("\\\\", "\\")
        return props


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")


def check_supported(location: TableLocation, props: Mapping[str, str], where: str) -> None:
    """Refuse, in one line, every table this writer cannot write safely."""
    if location.exists(METADATA_TABLE):
        raise DestinationError(f"{where}: the table has a Hudi metadata table (.hoodie/metadata); "
                               "sage writes only tables without one (readers would keep its stale file list)")
    if props.get("hoodie.table.type", "COPY_ON_WRITE") != "COPY_ON_WRITE":
        raise DestinationError(f"{where}: table type {props.get('hoodie.table.type')} is not supported "
                               "(sage writes copy-on-write tables only)")
    if props.get("hoodie.table.version") != TABLE_VERSION:
        raise DestinationError(f"{where}: Hudi table version {props.get('hoodie.table.version')} is not "
                               f"supported (sage writes table version {TABLE_VERSION} only)")
    if props.get("hoodie.table.base.file.format", "PARQUET").upper() != "PARQUET":
        raise DestinationError(f"{where}: base file format {props.get('hoodie.table.base.file.format')} "
                               "is not supported (parquet only)")
    if props.get("hoodie.table.metadata.partitions"):
        raise DestinationError(f"{where}: the table has metadata table partitions; sage writes only "
                               "tables without a metadata table")
