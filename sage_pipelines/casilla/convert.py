"""Turn columns of raw text into typed Arrow columns, exactly, with Arrow compute.

Readers hand over every cell as text (NULL for an empty cell); this module validates and casts a
whole column at once (RE2 regexes and Arrow casts, no per-row Python), so a batch of 64k rows
costs a few vectorized passes. Only when a column fails does Python look at single values, to
name the first bad one and say why (`BadValue`); the reader then adds the file and line.

The rules are SAGE's: `texto` keeps every character (leading zeros, surrounding spaces);
other types ignore surrounding whitespace; `entero` is a plain int64; `decimal` keeps every digit
and refuses what does not fit the scale instead of rounding; `fecha` is `YYYY-MM-DD` (a midnight
time is tolerated); `booleano` accepts only the listed spellings.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, InvalidOperation
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc

from sage_pipelines.types import Column, ColumnType, Kind, arrow_schema

TRUE_WORDS = ("true", "si", "sí", "1", "t", "y")
FALSE_WORDS = ("false", "no", "0", "f", "n")
_TRUE = pa.array(TRUE_WORDS)
_FALSE = pa.array(FALSE_WORDS)

INTEGER_RE = r"^[+-]?[0-9]+$"
DECIMAL_RE = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$"
# The significant digits of a well-formed decimal: leading zeros of the whole part and
# trailing zeros of the fraction do not count (they change no value).
DECIMAL_PARTS_RE = r"^(?P<sign>[+-]?)0*(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*?)0*)?$"
DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
MIDNIGHT_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T]00:00(:00(\.0+)?)?$"
DATETIME_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?$"
_DATETIME_PY = re.compile(DATETIME_RE)
_WIDE_DIGITS = 38  # decimal128's precision
_COLUMN_POOL = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="sage-convert")


class BadValue(Exception):
    """The first value of a column that does not convert: its row in the batch and why."""

    def __init__(self, row: int, column: str, value: object, reason: str) -> None:
        super().__init__(f"row {row}, column {column!r}: {reason}: {value!r}")
        self.row, self.column, self.value, self.reason = row, column, value, reason


def _first(mask: pa.Array) -> int | None:
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return None
    return pc.index(mask, True).as_py()


def _refuse_unmatched(trimmed: pa.Array, raw: pa.Array, pattern: str, column: str, reason: str) -> None:
    bad = _first(pc.invert(pc.match_substring_regex(trimmed, pattern)))
    if bad is not None:
        raise BadValue(bad, column, raw[bad].as_py(), reason)


def _blank_to_null(values: pa.Array) -> pa.Array:
    trimmed = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _text(raw: pa.Array, ctype: ColumnType, column: str) -> pa.Array:
    # A NUL character is a broken or binary file, and PostgreSQL cannot store one in text.
    bad = _first(pc.match_substring(raw, "\x00"))
    if bad is not None:
        raise BadValue(bad, column, raw[bad].as_py(), "contains a NUL character (byte 0)")
    if ctype.length:
        bad = _first(pc.greater(pc.utf8_length(raw), ctype.length))
        if bad is not None:
            raise BadValue(bad, column, raw[bad].as_py(), f"longer than {ctype.length} characters")
    return raw


def _integer(raw: pa.Array, ctype: ColumnType, column: str) -> pa.Array:
    values = _blank_to_null(raw)
    _refuse_unmatched(values, raw, INTEGER_RE, column, "not a whole number")
    # Arrow's cast refuses a leading `+`; strip it only when one is there (a pass saved).
    signed = pc.any(pc.starts_with(values, "+")).as_py()
    unsigned = pc.replace_substring_regex(values, r"^\+", "") if signed else values
    try:
        return pc.cast(unsigned, pa.int64())
    except pa.ArrowInvalid:
        for i, text in enumerate(unsigned.to_pylist()):
            if text is not None and not -(2**63) <= int(text) < 2**63:
                raise BadValue(i, column, raw[i].as_py(), "out of range for a 64-bit integer") from None
        raise


def decimal_problem(text: str, precision: int, scale: int) -> str | None:
    """Why `text` does not fit decimal(precision, scale) exactly, or None when it does."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return "not a decimal number"
    if not value.is_finite():
        return "not a decimal number"
    sign, digits, exponent = value.normalize().as_tuple() if value else (0, (0,), 0)
    fraction = max(-exponent, 0)
    whole = max(len(digits) + exponent, 0)
    if fraction > scale:
        return f"has more than {scale} digits after the decimal point (it would be rounded)"
    if whole > precision - scale:
        return f"has more than {precision - scale} digits before the decimal point"
    return None


def _decimal_fast(values: pa.Array, target: pa.Decimal128Type) -> pa.Array | None:
    """Well-formed decimals cast in one pass when every one fits exactly, else None.

    Values of at most 38 - scale characters cannot wrap around in decimal128(38, scale); Arrow
    refuses there any non-zero digit past the scale (trailing zeros change no value, as the
    slow path says), and a comparison then checks the whole part against the precision. Any
    doubt returns None: the slow path decides and names the value."""
    longest = pc.max(pc.binary_length(values)).as_py()
    if longest is None:
        return pc.cast(values, target)  # every value empty
    if longest > _WIDE_DIGITS - target.scale:
        return None
    try:
        wide = pc.cast(values, pa.decimal128(_WIDE_DIGITS, target.scale))
    except pa.ArrowInvalid:
        return None
    if target.precision < _WIDE_DIGITS:
        bound = pa.scalar(Decimal(10) ** (target.precision - target.scale), wide.type)
        if pc.any(pc.greater_equal(pc.abs(wide), bound)).as_py():
            return None
    return pc.cast(wide, target)


def _decimal(raw: pa.Array, ctype: ColumnType, column: str) -> pa.Array:
    target = ctype.to_arrow()
    values = _blank_to_null(raw)
    _refuse_unmatched(values, raw, DECIMAL_RE, column, "not a decimal number")
    fast = _decimal_fast(values, target)
    if fast is not None:
        return fast
    # Count the significant digits on each side of the point before casting: Arrow's cast
    # wraps around silently when the whole part is too long for the precision.
    parts = pc.extract_regex(values, DECIMAL_PARTS_RE)
    whole, fraction = pc.struct_field(parts, "whole"), pc.struct_field(parts, "fraction")
    too_long = pc.or_(pc.greater(pc.binary_length(whole), target.precision - target.scale),
                      pc.greater(pc.binary_length(fraction), target.scale))
    bad = _first(too_long)
    if bad is not None:
        text = values[bad].as_py()
        raise BadValue(bad, column, raw[bad].as_py(),
                       decimal_problem(text, target.precision, target.scale) or "does not fit the decimal type")
    # Cast the canonical spelling (no leading zeros, no trailing fractional zeros), which the
    # checks above guarantee fits: sign + whole + "." + fraction.
    zero = pa.scalar("0")
    whole = pc.if_else(pc.equal(whole, ""), zero, whole)
    fraction = pc.if_else(pc.equal(fraction, ""), zero, fraction)
    canonical = pc.binary_join_element_wise(pc.binary_join_element_wise(pc.struct_field(parts, "sign"), whole, ""),
                                            fraction, ".")
    canonical = pc.if_else(pc.is_null(values), pa.scalar(None, pa.string()), canonical)
    return pc.cast(canonical, target)


def _cast_checked(values: pa.Array, raw: pa.Array, target: pa.DataType, parse: Callable[[str], object],
                  column: str, reason: str) -> pa.Array:
    """Cast well-formed text; when Arrow refuses (e.g. 2023-02-30) find the value with `parse`.

    Year 0000 is refused here: Arrow takes it, but no calendar date or Python date has it.
    """
    bad = _first(pc.starts_with(values, "0000"))
    if bad is not None:
        raise BadValue(bad, column, raw[bad].as_py(), reason)
    try:
        return pc.cast(values, target)
    except pa.ArrowInvalid:
        for i, text in enumerate(values.to_pylist()):
            if text is not None:
                try:
                    parse(text)
                except ValueError:
                    raise BadValue(i, column, raw[i].as_py(), reason) from None
        raise


def _date(raw: pa.Array, ctype: ColumnType, column: str) -> pa.Array:
    values = _blank_to_null(raw)
    plain = pc.match_substring_regex(values, DATE_RE)
    bad = _first(pc.invert(plain))
    if bad is not None:  # some value is not a plain date: midnight times are tolerated
        bad = _first(pc.invert(pc.or_(plain, pc.match_substring_regex(values, MIDNIGHT_RE))))
    if bad is not None:
        text = values[bad].as_py()
        reason = ("has a time of day (declare the column as timestamp to keep it)"
                  if _DATETIME_PY.match(text) else "not a date (expected YYYY-MM-DD)")
        raise BadValue(bad, column, raw[bad].as_py(), reason)
    day = pc.utf8_slice_codeunits(values, 0, 10) if pc.any(pc.invert(plain)).as_py() else values
    return _cast_checked(day, raw, pa.date32(), dt.date.fromisoformat, column, "not a valid calendar date")


def _timestamp(raw: pa.Array, ctype: ColumnType, column: str) -> pa.Array:
    values = _blank_to_null(raw)
    _refuse_unmatched(values, raw, DATETIME_RE, column,
                      "not a date-time (expected YYYY-MM-DD or YYYY-MM-DD HH:MM:SS[.ffffff])")
    return _cast_checked(values, raw, pa.timestamp("us"), dt.datetime.fromisoformat, column,
                         "not a valid calendar date or time")


def _boolean(raw: pa.Array, ctype: ColumnType, column: str) -> pa.Array:
    values = pc.utf8_lower(_blank_to_null(raw))
    is_true = pc.is_in(values, value_set=_TRUE)
    is_false = pc.is_in(values, value_set=_FALSE)
    bad = _first(pc.and_(pc.is_valid(values), pc.invert(pc.or_(is_true, is_false))))
    if bad is not None:
        raise BadValue(bad, column, raw[bad].as_py(),
                       "not a boolean (expected true/false, si/no, 1/0, t/f or y/n)")
    return pc.if_else(pc.is_null(values), pa.scalar(None, pa.bool_()), is_true)


_CONVERTERS = {
    Kind.TEXT: _text,
    Kind.INTEGER: _integer,
    Kind.DECIMAL: _decimal,
    Kind.DATE: _date,
    Kind.TIMESTAMP: _timestamp,
    Kind.BOOLEAN: _boolean,
}


def convert_column(raw: pa.Array, column: Column, required: bool = False) -> pa.Array:
    """Convert one text column (NULL = empty cell) to `column`'s Arrow type, or raise BadValue.

    `required`: the SAGE field is marked `required: true`, so an empty value is bad input even
    where the column itself may hold NULL.
    """
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks()
    if raw.type != pa.string():
        raw = raw.cast(pa.string())
    out = _CONVERTERS[column.type.kind](raw, column.type, column.name)
    if (required or not column.nullable) and out.null_count:
        bad = _first(pc.is_null(out))
        raise BadValue(bad, column.name, raw[bad].as_py(), "empty value in a column that requires one")
    return out


def convert_batch(raw: pa.RecordBatch, columns: tuple[Column, ...], schema: pa.Schema | None = None,
                  required: frozenset[str] = frozenset()) -> pa.RecordBatch:
    """Convert a batch of text columns named like `columns` into a typed batch of `schema`
    (`required`: names of fields that must not be empty)."""
    schema = schema or arrow_schema(columns)
    # Columns convert in parallel (Arrow compute releases the GIL); the first failing column in
    # `columns` order is the one reported, as if they had run one after the other.
    futures = [_COLUMN_POOL.submit(convert_column, raw.column(c.name), c, c.name in required) for c in columns]
    arrays = [f.result() for f in futures]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
