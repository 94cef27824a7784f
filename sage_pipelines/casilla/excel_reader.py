"""Stream an EXCEL member (xlsx) as typed Arrow record batches.

openpyxl's read-only mode yields one row at a time, so memory stays bounded by a batch. Cells
arrive typed (int, float, datetime, bool, str); each is rendered as the exact text it stands for
(a float for a decimal through `repr`, so 0.1 stays 0.1; an integral float for an entero as the
integer) and the batch then goes through the same vectorized conversion as CSV, so both formats
obey one set of rules. The line in an error is the Excel row number. Excel number cells are
doubles: a number past 2^53 in an entero or decimal column may already be rounded and is
refused (such values belong in text cells, which are read exactly).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from decimal import Decimal
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator

import pyarrow as pa

from sage_pipelines.casilla.convert import BadValue, convert_batch
from sage_pipelines.casilla.header import map_header
from sage_pipelines.errors import DataError, SageError
from sage_pipelines.types import Column, Kind, arrow_schema

if TYPE_CHECKING:
    from sage_pipelines.casilla.readers import UploadMember


def cell_text(value: Any, kind: Kind) -> str | None:
    """The text an Excel cell stands for, given the kind of column it goes to (None = empty)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and kind is not Kind.DECIMAL:
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def _beyond_exact_doubles(value: Any) -> bool:
    """A number cell past 2^53: Excel (and openpyxl's writer) may have rounded it already."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > 2 ** 53


def _is_blank(row: tuple) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def read_excel(member: "UploadMember", columns: tuple[Column, ...], batch_rows: int) -> pa.RecordBatchReader:
    """A lazy reader of `member` as batches of at most `batch_rows` rows with `columns`' schema."""
    schema = arrow_schema(columns)
    return pa.RecordBatchReader.from_batches(schema, _batches(member, columns, schema, batch_rows))


def _open_sheet(member: "UploadMember", spool: BinaryIO) -> tuple[Any, Any]:
    """The workbook (close it) and the catalog's sheet: by name, by 0-based index, else the first."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(spool, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a damaged workbook
        raise _unreadable(member, exc) from None
    sheet = member.catalog.file_format.sheet
    try:
        if sheet is None:
            return book, book.worksheets[0]
        if isinstance(sheet, int):
            return book, book.worksheets[sheet]
        return book, book[sheet]
    except (IndexError, KeyError):
        book.close()
        raise DataError(member.display, None, None, sheet,
                        f"no such sheet (the workbook has {', '.join(book.sheetnames)})") from None


def _batches(member: "UploadMember", columns: tuple[Column, ...], schema: pa.Schema,
             batch_rows: int) -> Iterator[pa.RecordBatch]:
    fields = [f.name for f in member.catalog.fields]
    kinds = {c.name: c.type.kind for c in columns}
    with tempfile.TemporaryFile() as spool:  # openpyxl seeks; a zip member stream seeks slowly
        with member.open() as src:
            shutil.copyfileobj(src, spool, 1 << 20)
        spool.seek(0)
        book, sheet = _open_sheet(member, spool)
        try:
            # Read-only mode trusts the sheet's stored dimensions, which some writers get wrong
            # (rows past them would be dropped silently); read every row that is there instead.
            sheet.reset_dimensions()
            rows = enumerate(_sheet_rows(member, sheet), start=1)
            positions = _positions(member, fields, rows)
            wanted = [(c.name, positions[c.name], kinds[c.name]) for c in columns]
            width = len(fields)
            buffer: dict[str, list] = {name: [] for name, _, _ in wanted}
            lines: list[int] = []
            for line, row in rows:
                if _is_blank(row):
                    continue
                extra = [v for v in row[width:] if v is not None and not (isinstance(v, str) and not v.strip())]
                if extra:
                    raise DataError(member.display, line, None, row, f"expected {width} columns, found "
                                    f"{width + len(extra)} non-empty cells")
                for name, pos, kind in wanted:
                    value = row[pos] if pos < len(row) else None
                    if kind in (Kind.INTEGER, Kind.DECIMAL) and _beyond_exact_doubles(value):
                        raise DataError(member.display, line, name, value,
                                        "Excel number cells are doubles, exact only up to 2^53: "
                                        "store a number this large as text")
                    buffer[name].append(cell_text(value, kind))
                lines.append(line)
                if len(lines) >= batch_rows:
                    yield _convert(member, buffer, lines, columns, schema)
                    buffer = {name: [] for name in buffer}
                    lines = []
            if lines:
                yield _convert(member, buffer, lines, columns, schema)
        finally:
            book.close()


def _unreadable(member: "UploadMember", exc: BaseException) -> DataError:
    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    return DataError(member.display, None, None, None, f"not a readable Excel workbook ({reason})")


def _sheet_rows(member: "UploadMember", sheet: Any) -> Iterator[tuple]:
    """The sheet's rows as values; a damaged sheet (bad XML, a broken package) is a DataError."""
    rows = sheet.iter_rows(values_only=True)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except SageError:
            raise
        except Exception as exc:  # noqa: BLE001 - openpyxl and its XML parser raise many kinds
            raise _unreadable(member, exc) from None
        yield row


def _positions(member: "UploadMember", fields: list[str], rows: Iterator[tuple[int, tuple]]) -> dict[str, int]:
    """Column index of each field: by order when headerless, else by the header row's names."""
    if not member.catalog.file_format.header:
        return {name: i for i, name in enumerate(fields)}
    for line, row in rows:
        if _is_blank(row):
            continue
        header = list(row)
        while header and header[-1] is None:
            header.pop()
        return {name: i for i, name in enumerate(map_header(member.display, member.catalog, header, line))}
    raise DataError(member.display, 1, None, None, "the sheet is empty but the catalog declares a header row")


def _convert(member: "UploadMember", buffer: dict[str, list], lines: list[int], columns: tuple[Column, ...],
             schema: pa.Schema) -> pa.RecordBatch:
    raw = pa.RecordBatch.from_arrays([pa.array(buffer[c.name], pa.string()) for c in columns],
                                     names=[c.name for c in columns])
    try:
        return convert_batch(raw, columns, schema, frozenset(f.name for f in member.catalog.fields if f.required))
    except BadValue as bad:
        raise DataError(member.display, lines[bad.row], bad.column, bad.value, bad.reason) from None
