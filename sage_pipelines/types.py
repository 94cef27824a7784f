"""The logical column types every layer agrees on.

A SAGE field type (texto, decimal, entero, fecha, booleano), optionally refined by a
materialization's `columns:` override (`decimal(12,2)`, `varchar(10)`, `timestamp`), becomes one
`ColumnType`. Readers turn it into an Arrow type; each destination turns it into its own DDL
through its type map. Keeping this in one place is what makes values round-trip exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import pyarrow as pa

from sage_pipelines.errors import ConfigError


class Kind(str, Enum):
    TEXT = "text"
    DECIMAL = "decimal"
    INTEGER = "integer"
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOLEAN = "boolean"


# SAGE decimals declare no precision. 38 digits with 10 after the point hold every value SAGE
# files carry (20-digit amounts included) in a fixed-point type; a value with more than 10
# fractional digits is refused by the reader rather than rounded. Override per column.
DEFAULT_DECIMAL_PRECISION = 38
DEFAULT_DECIMAL_SCALE = 10


@dataclass(frozen=True)
class ColumnType:
    kind: Kind
    precision: int | None = None  # decimals
    scale: int | None = None  # decimals
    length: int | None = None  # bounded text (varchar(n)); None = unbounded

    def to_arrow(self) -> pa.DataType:
        if self.kind is Kind.TEXT:
            return pa.string()
        if self.kind is Kind.DECIMAL:
            return pa.decimal128(self.precision or DEFAULT_DECIMAL_PRECISION,
                                 DEFAULT_DECIMAL_SCALE if self.scale is None else self.scale)
        if self.kind is Kind.INTEGER:
            return pa.int64()
        if self.kind is Kind.DATE:
            return pa.date32()
        if self.kind is Kind.TIMESTAMP:
            return pa.timestamp("us")
        return pa.bool_()

    def __str__(self) -> str:
        if self.kind is Kind.DECIMAL:
            return f"decimal({self.precision},{self.scale})"
        if self.kind is Kind.TEXT and self.length:
            return f"varchar({self.length})"
        return self.kind.value

    def can_widen_to(self, other: "ColumnType") -> bool:
        """Whether existing values of `self` fit `other` without loss (schema evolution)."""
        if self == other:
            return True
        if self.kind is Kind.TEXT and other.kind is Kind.TEXT:
            return other.length is None or (self.length is not None and self.length <= other.length)
        if self.kind is Kind.DECIMAL and other.kind is Kind.DECIMAL:
            s_int = (self.precision or 0) - (self.scale or 0)
            o_int = (other.precision or 0) - (other.scale or 0)
            return o_int >= s_int and (other.scale or 0) >= (self.scale or 0)
        if self.kind is Kind.INTEGER and other.kind is Kind.DECIMAL:
            return (other.precision or 0) - (other.scale or 0) >= 19
        if self.kind is Kind.DATE and other.kind is Kind.TIMESTAMP:
            return True
        return False


SAGE_TYPES: dict[str, ColumnType] = {
    "texto": ColumnType(Kind.TEXT),
    "decimal": ColumnType(Kind.DECIMAL, DEFAULT_DECIMAL_PRECISION, DEFAULT_DECIMAL_SCALE),
    "entero": ColumnType(Kind.INTEGER),
    "fecha": ColumnType(Kind.DATE),
    "booleano": ColumnType(Kind.BOOLEAN),
}

_ALIASES: dict[str, Kind] = {
    "text": Kind.TEXT, "string": Kind.TEXT, "varchar": Kind.TEXT, "texto": Kind.TEXT,
    "decimal": Kind.DECIMAL, "numeric": Kind.DECIMAL,
    "integer": Kind.INTEGER, "int": Kind.INTEGER, "bigint": Kind.INTEGER, "entero": Kind.INTEGER,
    "date": Kind.DATE, "fecha": Kind.DATE,
    "timestamp": Kind.TIMESTAMP, "datetime": Kind.TIMESTAMP,
    "boolean": Kind.BOOLEAN, "bool": Kind.BOOLEAN, "booleano": Kind.BOOLEAN,
}

_TYPE_RE = re.compile(r"^\s*([a-z]+)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$", re.IGNORECASE)


def parse_type(text: str, where: str = "type") -> ColumnType:
    """Parse a SAGE type word or an override such as `decimal(12,2)` or `varchar(10)`."""
    m = _TYPE_RE.match(str(text))
    if not m or m.group(1).lower() not in _ALIASES:
        raise ConfigError(f"{where}: unknown type {text!r} (expected one of "
                          "texto, decimal, entero, fecha, booleano, decimal(p,s), varchar(n), "
                          "text, integer, date, timestamp, boolean)")
    word, a, b = m.group(1).lower(), m.group(2), m.group(3)
    kind = _ALIASES[word]
    if kind is Kind.DECIMAL:
        if a is None:
            return SAGE_TYPES["decimal"]
        precision, scale = int(a), int(b or 0)
        if not (1 <= precision <= 38) or scale > precision:
            raise ConfigError(f"{where}: {text!r} needs 1 <= precision <= 38 and scale <= precision")
        return ColumnType(Kind.DECIMAL, precision, scale)
    if kind is Kind.TEXT:
        if b is not None:
            raise ConfigError(f"{where}: {text!r} takes one length")
        return ColumnType(Kind.TEXT, length=int(a) if a else None)
    if a is not None:
        raise ConfigError(f"{where}: {text!r} takes no size")
    return ColumnType(kind)


@dataclass(frozen=True)
class Column:
    """A column of a materialized table: its name, logical type and whether NULL is allowed."""

    name: str
    type: ColumnType
    nullable: bool = True


def arrow_schema(columns: list[Column] | tuple[Column, ...]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.type.to_arrow(), nullable=c.nullable) for c in columns])
