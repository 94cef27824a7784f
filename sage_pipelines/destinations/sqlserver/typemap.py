"""SAGE logical types -> SQL Server DDL, and the size limits of SQL Server keys.

Text is always Unicode (`NVARCHAR`). Unbounded text is `NVARCHAR(MAX)`, which cannot be a key,
so an unbounded key column becomes `NVARCHAR(450)` (900 bytes, the limit of a clustered key);
declared lengths above 4,000 characters are `NVARCHAR(MAX)`. Key text columns are compared with
a binary collation (`Latin1_General_100_BIN2`), so `abc` and `ABC`, or `a` and `á`, stay
different keys as they are in the upload; other text takes the database's default collation,
spelled out so a `#staging` table (created in tempdb) compares with the target without a
collation conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sage_pipelines.destinations.sql import TypeMap
from sage_pipelines.errors import DestinationError
from sage_pipelines.types import Column, ColumnType, Kind

MAX_NVARCHAR = 4000  # NVARCHAR(n) takes n <= 4000; longer is NVARCHAR(MAX)
KEY_TEXT_LENGTH = 450  # 900 bytes of UTF-16
CLUSTERED_KEY_BYTES = 900  # PRIMARY KEY (clustered)
INDEX_KEY_BYTES = 1700  # nonclustered index (delete_by)
KEY_COLLATION = "Latin1_General_100_BIN2"
TEXT_COLLATION = "DATABASE_DEFAULT"


@dataclass(frozen=True)
class SQLServerTypeMap(TypeMap):
    max_varchar: int = MAX_NVARCHAR
    key_collation: str = KEY_COLLATION
    text_collation: str = TEXT_COLLATION

    def stored(self, t: ColumnType, key: bool = False) -> ColumnType:
        if t.kind is Kind.TEXT and t.length is not None and t.length > self.max_varchar:
            t = ColumnType(Kind.TEXT)
        return super().stored(t, key)

    def ddl(self, t: ColumnType, key: bool = False) -> str:
        ddl = super().ddl(t, key)
        if t.kind is Kind.TEXT:
            return f"{ddl} COLLATE {self.key_collation if key else self.text_collation}"
        return ddl


TYPE_MAP = SQLServerTypeMap(
    text="NVARCHAR(MAX)", varchar="NVARCHAR({length})", key_text_length=KEY_TEXT_LENGTH,
    decimal="DECIMAL({precision},{scale})", integer="BIGINT", date="DATE",
    timestamp="DATETIME2(6)", boolean="BIT",
    catalog={"nvarchar": Kind.TEXT, "varchar": Kind.TEXT, "nchar": Kind.TEXT, "char": Kind.TEXT,
             "ntext": Kind.TEXT, "text": Kind.TEXT, "decimal": Kind.DECIMAL, "numeric": Kind.DECIMAL,
             "bigint": Kind.INTEGER, "date": Kind.DATE, "datetime2": Kind.TIMESTAMP,
             "datetime": Kind.TIMESTAMP, "bit": Kind.BOOLEAN},
    bounded_text=frozenset({"nvarchar", "varchar", "nchar", "char"}))


def key_bytes(t: ColumnType) -> int:
    """Bytes one value of the stored type takes in an index key."""
    if t.kind is Kind.TEXT:
        return 2 * (t.length or KEY_TEXT_LENGTH)
    if t.kind is Kind.DECIMAL:
        p = t.precision or 38
        return 5 if p <= 9 else 9 if p <= 19 else 13 if p <= 28 else 17
    return {Kind.INTEGER: 8, Kind.DATE: 3, Kind.TIMESTAMP: 8, Kind.BOOLEAN: 1}[t.kind]


def check_key_size(table: str, role: str, columns: Iterable[Column], limit: int,
                   type_map: SQLServerTypeMap = TYPE_MAP) -> None:
    """Refuse, before connecting, a key SQL Server could not index (the server would only warn
    at CREATE and then fail on the first long value)."""
    columns = list(columns)
    total = sum(key_bytes(type_map.stored(c.type, key=True)) for c in columns)
    if total > limit:
        names = ", ".join(c.name for c in columns)
        raise DestinationError(
            f"table {table}: {role} ({names}) would take up to {total} bytes per key; SQL Server "
            f"allows {limit}. Declare shorter text for these columns, e.g. columns: "
            f"{{{columns[0].name}: {{type: \"varchar(100)\"}}}}")
