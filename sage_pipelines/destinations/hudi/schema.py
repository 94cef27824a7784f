"""The table schema of a Hudi table: its columns, their Arrow file types and their Avro JSON.

Hudi readers take the read schema from the latest completed commit's `extraMetadata.schema`
(Avro JSON, without the `_hoodie_*` meta fields). The rules here are the ones hudi-rs 0.5.0
was checked against: decimals are Avro `fixed` whose size equals the Parquet byte width of the
precision, timestamps are stored in UTC and declared `timestamp-micros`, dates are `date`.
Every data field is nullable in the files and in Avro so that columns added later (which old
files lack) read as NULL. The logical column types are kept next to the Avro schema in the
commit metadata (`sage.columns`) so that `varchar(n)` and decimal precisions survive exactly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pyarrow as pa

from sage_pipelines.destinations.base import LOADED_AT_COLUMN, SAGE_COLUMNS, UPLOAD_ID_COLUMN
from sage_pipelines.destinations.hudi.capabilities import COLUMN_NAMES
from sage_pipelines.destinations.lake.schema import conform
from sage_pipelines.errors import ConfigError
from sage_pipelines.types import Column, ColumnType, Kind, parse_type

META_COLUMNS: tuple[str, ...] = ("_hoodie_commit_time", "_hoodie_commit_seqno", "_hoodie_record_key",
                                 "_hoodie_partition_path", "_hoodie_file_name")
COMMIT_TIME, SEQNO, RECORD_KEY, PARTITION_PATH, FILE_NAME = META_COLUMNS
# Row ordinal inside an upload: with `_sage_upload_id` it is the record key of tables without
# a primary key (append). Stored, but not returned by `read`.
ROW_ID_COLUMN = "_sage_row_id"
SAGE_COLUMNS_KEY = "sage.columns"

_AVRO_NAME = re.compile(r"[^A-Za-z0-9_]")



def check_column_names(columns: tuple[Column, ...], where: str) -> None:
    """Hudi's read schema is Avro, whose field names are `[A-Za-z_][A-Za-z0-9_]*`; hudi-rs
    refuses any other name, so such a table would be unreadable: refuse it before writing."""
    for c in columns:
        problem = COLUMN_NAMES.problem(c.name)
        if problem:
            raise ConfigError(f"{where}: column {c.name!r} cannot be a hudi column: {problem}")


def decimal_byte_width(precision: int) -> int:
    """Bytes of the Parquet FIXED_LEN_BYTE_ARRAY holding `precision` digits (5 for 10, 16 for 38)."""
    width = 1
    while 2 ** (8 * width - 1) <= 10 ** precision:
        width += 1
    return width


def file_type(column_type: ColumnType) -> pa.DataType:
    """The Arrow type a column has inside the base files (timestamps in UTC)."""
    if column_type.kind is Kind.TIMESTAMP:
        return pa.timestamp("us", tz="UTC")
    return column_type.to_arrow()


@dataclass(frozen=True)
class TableSchema:
    """The stored columns of a table: declared columns, then `_sage_*` (and `_sage_row_id`)."""

    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def data_schema(self) -> pa.Schema:
        """Arrow schema of the data part of a base file (after the meta columns)."""
        return pa.schema([pa.field(c.name, file_type(c.type), nullable=True) for c in self.columns])

    def file_schema(self) -> pa.Schema:
        meta = [pa.field(n, pa.string(), nullable=False) for n in META_COLUMNS]
        return pa.schema(meta + list(self.data_schema()))

    def read_schema(self) -> pa.Schema:
        """What `read` returns: the columns with their declared Arrow types, no `_sage_row_id`."""
        return pa.schema([pa.field(c.name, c.type.to_arrow(), nullable=True)
                          for c in self.columns if c.name != ROW_ID_COLUMN])

    def avro_json(self, table_name: str) -> str:
        record = _AVRO_NAME.sub("_", table_name)
        record = record if record[:1].isalpha() or record[:1] == "_" else f"t_{record}"
        fields = []
        for i, c in enumerate(self.columns):
            fields.append({"name": c.name, "type": ["null", _avro_type(c.type, f"{record}.c{i}")],
                           "default": None})
        return json.dumps({"type": "record", "name": f"{record}_record", "namespace": f"hoodie.{record}",
                           "fields": fields})

    def to_json(self) -> str:
        return json.dumps([{"name": c.name, "type": str(c.type), "nullable": c.nullable}
                           for c in self.columns])

    @classmethod
    def from_json(cls, text: str) -> "TableSchema":
        return cls(tuple(Column(d["name"], parse_type(d["type"]), d["nullable"]) for d in json.loads(text)))


def _avro_type(column_type: ColumnType, namespace: str) -> object:
    kind = column_type.kind
    if kind is Kind.TEXT:
        return "string"
    if kind is Kind.INTEGER:
        return "long"
    if kind is Kind.BOOLEAN:
        return "boolean"
    if kind is Kind.DATE:
        return {"type": "int", "logicalType": "date"}
    if kind is Kind.TIMESTAMP:
        return {"type": "long", "logicalType": "timestamp-micros"}
    arrow = column_type.to_arrow()
    return {"type": "fixed", "name": "fixed", "namespace": namespace,
            "size": decimal_byte_width(arrow.precision), "logicalType": "decimal",
            "precision": arrow.precision, "scale": arrow.scale}


def sage_columns(with_row_id: bool) -> tuple[Column, ...]:
    """The `_sage_*` columns every Hudi table stores after the declared ones."""
    extra = (Column(ROW_ID_COLUMN, ColumnType(Kind.INTEGER), nullable=False),) if with_row_id else ()
    return SAGE_COLUMNS + extra


__all__ = ["COMMIT_TIME", "FILE_NAME", "LOADED_AT_COLUMN", "META_COLUMNS", "PARTITION_PATH", "RECORD_KEY",
           "ROW_ID_COLUMN", "SAGE_COLUMNS_KEY", "SEQNO", "TableSchema", "UPLOAD_ID_COLUMN", "conform",
           "decimal_byte_width", "file_type", "sage_columns"]
