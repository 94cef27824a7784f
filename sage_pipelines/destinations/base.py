"""The one interface every destination implements, and the data it exchanges.

A destination receives an Arrow `RecordBatchReader` with the table's declared schema and
applies one strategy atomically. What a destination can do is declared as `Capabilities`
(data, not code), so shared code asks instead of branching on destination names.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence, runtime_checkable

import pyarrow as pa

from sage_pipelines.destinations.checks import KeyCheck, TableLocation, Violations
from sage_pipelines.types import Column, ColumnType, Kind, arrow_schema

UPLOAD_ID_COLUMN = "_sage_upload_id"
LOADED_AT_COLUMN = "_sage_loaded_at"
SAGE_COLUMNS: tuple[Column, ...] = (
    Column(UPLOAD_ID_COLUMN, ColumnType(Kind.TEXT, length=64), nullable=False),
    Column(LOADED_AT_COLUMN, ColumnType(Kind.TIMESTAMP), nullable=False),
)


class Strategy(str, Enum):
    UPSERT = "upsert"
    DELETE_INSERT = "delete_insert"
    APPEND = "append"
    TRUNCATE_INSERT = "truncate_insert"


class SchemaChange(str, Enum):
    EVOLVE = "evolve"
    FREEZE = "freeze"


@dataclass(frozen=True)
class Partitioning:
    """Lake partitioning: columns plus a transform (identity, day, month, year, bucket[N], truncate[N])."""

    columns: tuple[str, ...]
    transform: str = "identity"


@dataclass(frozen=True)
class TableSpec:
    """Everything a destination needs to know about one target table.

    `columns` are the upload's columns in file order (without the `_sage_*` columns, which
    every destination adds itself). `schema` is the schema / database / namespace, or None for
    the destination's default.
    """

    name: str
    columns: tuple[Column, ...]
    strategy: Strategy
    schema: str | None = None
    primary_key: tuple[str, ...] = ()
    delete_by: tuple[str, ...] = ()
    partitioning: Partitioning | None = None
    schema_change: SchemaChange = SchemaChange.EVOLVE

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    @property
    def effective_delete_by(self) -> tuple[str, ...]:
        return self.delete_by or self.primary_key

    @property
    def arrow_schema(self) -> pa.Schema:
        """The schema of batches handed to `write` (declared columns only)."""
        return arrow_schema(self.columns)

    @property
    def table_columns(self) -> tuple[Column, ...]:
        """The columns of the stored table: declared columns, then the `_sage_*` columns."""
        return self.columns + SAGE_COLUMNS


@dataclass
class WriteResult:
    """What one write did. `extra` holds destination-specific facts (snapshot id, files, ...)."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rows: int = 0  # rows in the upload that reached the table (after dedup for upsert)
    bytes: int = 0  # Arrow bytes of the upload's batches
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    # Rows the table holds right after this write, counted inside the write (same transaction or
    # snapshot), so `dagster/row_count` is the table's size and not the upload's.
    table_rows: int | None = None
    # Upsert: rows of the upload dropped because a later row of the same key won (last row wins).
    superseded: int = 0

    @property
    def written(self) -> int:
        """Rows the strategy says it took from the upload: what reconciliation compares with
        the rows the upload held."""
        return self.rows + self.superseded


class WriterScope(str, Enum):
    """How many writers a destination takes at once, which the run queue enforces per value.

    `file`: one writing process per database file (DuckDB); `table`: one writer per table, for a
    format without conflict detection between writers (Hudi); `none`: the destination serialises
    or detects conflicting writers itself (database locks, Iceberg / Delta optimistic commits).
    """

    FILE = "file"
    TABLE = "table"
    NONE = "none"


@dataclass(frozen=True)
class IdentifierRules:
    """What a destination accepts as a name (of a table, schema or column), as data.

    Checked twice with the same words: when a materialization is applied (the validator) and
    again right before a write. Every rule here is on top of `name_rules.name_problem`, which
    no name anywhere may break.
    """

    max_length: int = 255
    length_in_bytes: bool = False  # PostgreSQL counts its 63 in UTF-8 bytes, MySQL in characters
    case_insensitive: bool = False  # `Id` and `id` are one column (MySQL, DuckDB, SQL Server)
    no_trailing_space: bool = False
    refused_characters: frozenset[str] = frozenset({"\x00"})
    max_code_point: int | None = None  # MySQL / MariaDB: nothing beyond the BMP (no emoji)
    refused_prefixes: tuple[str, ...] = ()  # SQL Server: `#name` is a temporary table
    reserved: frozenset[str] = frozenset()  # whole names refused (a folder cannot be `.` or `..`)
    pattern: str | None = None  # a regular expression every name must match whole
    pattern_rule: str = ""  # the pattern in words, for messages
    noun: str = ""  # what such a name becomes, when not a plain name (Delta / Hudi tables: a folder)

    def length(self, name: str) -> int:
        return len(name.encode("utf-8")) if self.length_in_bytes else len(name)

    def problem(self, name: str) -> str | None:
        """Why `name` breaks these rules (one phrase), or None."""
        if not isinstance(name, str) or not name:
            return "an empty name is not allowed"
        refused = sorted(self.refused_characters.intersection(name))
        if refused:
            shown = " ".join("NUL" if c == "\x00" else c for c in refused)
            return f"a name here cannot hold {shown}"
        if self.max_code_point is not None:
            wide = next((c for c in name if ord(c) > self.max_code_point), None)
            if wide is not None:
                return f"a name here cannot hold {wide!r} (U+{ord(wide):04X}; at most U+{self.max_code_point:04X})"
        if self.no_trailing_space and name != name.rstrip(" "):
            return "a name here cannot end with a space"
        if name in self.reserved:
            return f"{name!r} is not allowed as a name here"
        prefix = next((p for p in self.refused_prefixes if name.startswith(p)), None)
        if prefix is not None:
            return f"a name here cannot start with {prefix!r}"
        if self.pattern is not None and not re.fullmatch(self.pattern, name):
            return self.pattern_rule or f"a name here must match {self.pattern}"
        length = self.length(name)
        if length > self.max_length:
            unit = "bytes" if self.length_in_bytes else "characters"
            return f"{length} {unit} long, more than the {self.max_length} allowed here"
        return None


@dataclass(frozen=True)
class Capabilities:
    """What a destination supports, as data: shared code and the validator ask instead of
    branching on destination names.

    `partition_transforms` empty: the kind does not partition (a database), and a table's
    `partitioning:` is for its lake destinations only. `time_partition_max_columns`: how many
    columns one day / month / year transform may take (Hudi: one). `transactional_ddl`: CREATE /
    ALTER happen inside the write's transaction (else they commit on their own and a failed write
    undoes them). `writer_scope`: see `WriterScope`.
    """

    strategies: frozenset[Strategy] = frozenset(Strategy)
    bulk_load: str = ""  # e.g. "COPY", "LOAD DATA LOCAL INFILE", "bulk copy", "Arrow scan"
    table_names: IdentifierRules = IdentifierRules()  # tables and schemas / namespaces
    column_names: IdentifierRules = IdentifierRules()
    supports_schemas: bool = True
    transactional: bool = True  # a write is all or nothing
    transactional_ddl: bool = True
    partition_transforms: frozenset[str] = frozenset()
    time_partition_max_columns: int | None = None
    writer_scope: WriterScope = WriterScope.NONE

    @property
    def max_identifier_length(self) -> int:
        return self.table_names.max_length

    @property
    def supports_partitioning(self) -> bool:
        return bool(self.partition_transforms)


def _no_secret() -> None:
    return None


@dataclass(frozen=True)
class ConnectionSettings:
    """How to reach a database destination. The password is a callable so it is decrypted
    only at connect time and never sits in a repr, a log line or Dagster metadata."""

    kind: str  # duckdb | postgresql | mysql | sqlserver
    name: str = ""  # the connection's name, for messages
    host: str | None = None
    port: int | None = None
    user: str | None = None
    database: str | None = None  # DuckDB: the database file path
    schema: str | None = None  # default schema for tables without one
    options: Mapping[str, str] = field(default_factory=dict)  # sslmode, sslrootcert, ...
    password: Callable[[], str | None] = field(default=_no_secret, repr=False, compare=False)


@dataclass(frozen=True)
class LakeSettings:
    """Where lake tables live. `credentials` returns decrypted storage options at use time."""

    name: str
    warehouse: str  # file:///... or s3://...
    format: str  # iceberg | delta | hudi
    catalog_uri: str | None = None  # Iceberg SQL / REST catalog; default: SQLite beside the lake
    options: Mapping[str, str] = field(default_factory=dict)
    credentials: Callable[[], Mapping[str, str]] = field(default=dict, repr=False, compare=False)


@dataclass(frozen=True)
class DestinationKind:
    """One kind of destination as the registry lists it: everything known about it without
    importing its driver. `destination` (and, for databases, `client`) name modules loaded only
    when the kind is used (`registry.destination_class`, `registry.probe`).

    `settings` is the kind's typed settings model: its fields and docstring say which options
    the kind takes. `family` is `database` (reached through a connection) or `lake` (a table
    format of a lake).
    """

    name: str
    family: str  # database | lake
    capabilities: Capabilities
    settings: type
    destination: str  # "module:Class" of the Destination
    client: str | None = None  # "module:CLIENT", its `probe(settings, timeout)` (databases)

    @property
    def is_lake(self) -> bool:
        return self.family == "lake"


@runtime_checkable
class Destination(Protocol):
    """A place tables are written to. Implementations must make `write` atomic."""

    capabilities: Capabilities

    # Implementations are constructed as `Cls(settings)` with a ConnectionSettings or LakeSettings.

    def write(self, batches: pa.RecordBatchReader, table: TableSpec, upload_id: str) -> WriteResult:
        """Apply `table.strategy` with the upload's rows; all or nothing."""
        ...

    def read(self, table: TableSpec) -> pa.Table:
        """The table's current content (for verification, tests and downstream assets)."""
        ...

    def describe(self, table: TableSpec) -> str:
        """A human-readable location, e.g. `warehouse.main.fact_ventas` (never credentials)."""
        ...

    def violations(self, table: TableSpec, checks: Sequence[KeyCheck]) -> list[Violations]:
        """How many rows of the stored table break each check, with the first few offending
        values (asset checks run this right after a write)."""
        ...

    def locate(self, table: TableSpec, uri: bool = True) -> TableLocation:
        """The table's fully qualified name and, where it has one and `uri`, its URI (Dagster
        metadata). Never connects for the name alone."""
        ...


def with_sage_columns(batches: pa.RecordBatchReader, upload_id: str,
                      loaded_at: dt.datetime | None = None) -> pa.RecordBatchReader:
    """Append `_sage_upload_id` and `_sage_loaded_at` to every batch, streaming."""
    loaded_at = (loaded_at or dt.datetime.now(dt.timezone.utc)).replace(tzinfo=None)
    schema = batches.schema
    for c in SAGE_COLUMNS:
        schema = schema.append(pa.field(c.name, c.type.to_arrow(), nullable=False))

    def gen() -> Iterator[pa.RecordBatch]:
        for b in batches:
            n = b.num_rows
            yield pa.RecordBatch.from_arrays(
                list(b.columns) + [pa.repeat(pa.scalar(upload_id, pa.string()), n),
                                   pa.repeat(pa.scalar(loaded_at, pa.timestamp("us")), n)],
                schema=schema)

    return pa.RecordBatchReader.from_batches(schema, gen())
