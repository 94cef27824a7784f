"""Values on their way into T-SQL, always through pymssql's own quoting.

pymssql binds parameters on the client: it quotes each value (`N'it''s'`, `NULL`, fixed-point
decimals) and splices it into the statement text. Its splicer finds `%s` with a regular
expression over the whole text, so a bracket-quoted name such as `[pct%s]` would be taken for a
placeholder. We therefore keep pymssql's quoting (`_mssql.quote_data`) but splice by position:
statements mark parameters with `PARAM`, a marker that holds a NUL character, which no
identifier may contain (`Quoter.check` refuses NUL), and the statement is executed without
parameters, so pymssql leaves the text alone.

Arrow batches become rows of literals column by column (one `to_pylist` per column, one
`quote_data` call per column, then `zip`): the minimum Python that a DB-API driver needs.
Multi-row VALUES are typed like UNION ALL (a column of only NULLs is `int`, which will not
convert to DATE), so dates and timestamps travel as ISO text inside an explicit
`CONVERT(type, value, style)`; the style fixes the format regardless of the session language.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.compute as pc
from pymssql import _mssql

from sage_pipelines.errors import DestinationError

PARAM = "\x00?\x00"  # a bound value's place in a statement (never part of a name)
CHARSET = "utf-8"

# Arrow type -> (before, after) around the quoted value, for types whose text needs a conversion
_DATE = (b"CONVERT(DATE, ", b", 23)")  # style 23: yyyy-mm-dd
_TIMESTAMP = (b"CONVERT(DATETIME2(6), ", b", 121)")  # style 121: yyyy-mm-dd hh:mi:ss.ffffff


def quote(values: Sequence[Any]) -> tuple[bytes, ...]:
    """Each value as the T-SQL literal pymssql would send for it."""
    return _mssql.quote_data(tuple(values), False, CHARSET)


def bind(sql: str, params: Sequence[Any] = ()) -> bytes:
    """The statement with each `PARAM` replaced, in order, by its driver-quoted value."""
    parts = sql.split(PARAM)
    if len(parts) != len(params) + 1:
        raise ValueError(f"statement has {len(parts) - 1} parameter markers but {len(params)} values")
    if not params:
        return sql.encode(CHARSET)
    pieces: list[bytes] = [b""] * (2 * len(parts) - 1)
    pieces[0::2] = [p.encode(CHARSET) for p in parts]
    pieces[1::2] = quote(params)
    return b"".join(pieces)


def check_no_nul(batch: pa.RecordBatch) -> None:
    """Refuse text with a NUL character: the client library sends statements as C strings and
    would cut the statement there."""
    for field, column in zip(batch.schema, batch.columns):
        if (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)) and \
                pc.any(pc.match_substring(column, "\x00")).as_py():
            raise DestinationError(f"column {field.name!r}: a value holds a NUL character, which "
                                   "SQL Server's client library cannot send")


def python_values(column: pa.Array) -> list[Any]:
    """One column as the Python values the driver quotes: text, int and bool as they are;
    dates and timestamps as ISO text formatted by Arrow; decimals as their exact digits in
    fixed-point text (Arrow formats them; the rare value it spells with an exponent, such as
    -1E-10, is rewritten by `Decimal`, because SQL Server will not convert `1E-10` text to
    DECIMAL). Text is about three times cheaper than Decimal objects here."""
    t = column.type
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return pc.cast(column, pa.string()).to_pylist()
    if pa.types.is_decimal(t):
        text = pc.cast(column, pa.string())
        values = text.to_pylist()
        if pc.any(pc.match_substring(text, "E")).as_py():
            values = [v if v is None or "E" not in v else format(Decimal(v), "f") for v in values]
        return values
    return column.to_pylist()


def _wrapper(t: pa.DataType) -> tuple[bytes, bytes] | None:
    if pa.types.is_date(t):
        return _DATE
    if pa.types.is_timestamp(t):
        return _TIMESTAMP
    return None


def encode_rows(batch: pa.RecordBatch) -> list[bytes]:
    """Each row of the batch as `(literal, literal, ...)`."""
    columns: list[Sequence[bytes]] = []
    for field, column in zip(batch.schema, batch.columns):
        quoted = quote(python_values(column))
        wrap = _wrapper(field.type)
        if wrap is not None:
            before, after = wrap
            quoted = [before + q + after for q in quoted]
        columns.append(quoted)
    return [b"(" + b",".join(row) + b")" for row in zip(*columns)]


def insert_values(head: bytes, rows: Sequence[bytes]) -> bytes:
    """`head` (`INSERT INTO [t] ([a], [b]) VALUES `) followed by the rows."""
    return head + b",".join(rows)
