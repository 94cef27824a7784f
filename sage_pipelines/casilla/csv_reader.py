"""Stream a CSV member as typed Arrow record batches.

pyarrow's streaming CSV reader does the parsing (quotes, delimiters and newlines inside fields,
transcoding Latin-1) one block at a time, reading every column as text; `convert` types the
columns with Arrow compute. Line numbers are not tracked on the hot path: when something fails,
the file is re-scanned with Python's csv module up to the failing record, which gives the
physical line (header and multi-line fields counted) for the error message.
"""

from __future__ import annotations

import csv
import io
import sys
from typing import TYPE_CHECKING, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

from sage_pipelines.casilla.convert import BadValue, convert_batch
from sage_pipelines.casilla.encoding import TextEncoding, detect_encoding
from sage_pipelines.casilla.header import map_header
from sage_pipelines.errors import DataError
from sage_pipelines.types import Column, arrow_schema

if TYPE_CHECKING:
    from sage_pipelines.casilla.readers import UploadMember

BLOCK_SIZE = 4 << 20  # bytes pyarrow parses at a time; bounds memory together with batch_rows


class _CsvFile:
    """One CSV member with its decided encoding; knows how to re-scan it for line numbers."""

    def __init__(self, member: "UploadMember") -> None:
        self.member = member
        fmt = member.catalog.file_format
        self.delimiter = fmt.delimiter or ","
        self.header = fmt.header
        self.fields = [f.name for f in member.catalog.fields]
        self.encoding: TextEncoding = detect_encoding(member.open, fmt.encoding)

    def open_binary(self) -> io.BufferedIOBase:
        stream = self.member.open()
        if self.encoding.skip:
            stream.read(self.encoding.skip)
        return stream

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(first physical line, fields) of every non-blank record, header included."""
        csv.field_size_limit(sys.maxsize)
        with self.open_binary() as raw:
            text = io.TextIOWrapper(raw, encoding=self.encoding.codec, errors="replace", newline="")
            reader = csv.reader(text, delimiter=self.delimiter, quotechar='"', doublequote=True, strict=False)
            end = 0
            for row in reader:
                start, end = end + 1, reader.line_num
                if row:
                    yield start, row

    def header_names(self) -> list[str] | None:
        for _line, row in self.records():
            return row
        return None

    def line_of(self, data_row: int) -> int | None:
        """The physical line where data record number `data_row` (0-based) starts."""
        skip = 1 if self.header else 0
        for i, (line, _row) in enumerate(self.records()):
            if i == data_row + skip:
                return line
        return None

    def first_wrong_width(self, expected: int) -> tuple[int, list[str]] | None:
        records = self.records()
        if self.header:
            next(records, None)
        for line, row in records:
            if len(row) != expected:
                return line, row
        return None


def _file_columns(f: _CsvFile) -> list[str]:
    """The catalog field each file column holds, in file order (checks the header)."""
    if not f.header:
        return list(f.fields)
    names = f.header_names()
    if names is None:
        raise DataError(f.member.display, 1, None, "", "the file is empty but the catalog declares a header row")
    return map_header(f.member.display, f.member.catalog, names, 1)


def read_csv(member: "UploadMember", columns: tuple[Column, ...], batch_rows: int) -> pa.RecordBatchReader:
    """A lazy reader of `member` as batches of at most `batch_rows` rows with `columns`' schema."""
    schema = arrow_schema(columns)
    return pa.RecordBatchReader.from_batches(schema, _batches(member, columns, schema, batch_rows))


def _batches(member: "UploadMember", columns: tuple[Column, ...], schema: pa.Schema,
             batch_rows: int) -> Iterator[pa.RecordBatch]:
    f = _CsvFile(member)
    if member.size <= f.encoding.skip:
        if f.header:
            raise DataError(member.display, 1, None, "", "the file is empty but the catalog declares a header row")
        return  # an empty headerless file holds no rows
    names = _file_columns(f)
    # With a header, pyarrow reads it too, and each column is requested as text under the
    # name just parsed; without one, columns get positional names.
    raw_names = f.header_names() if f.header else None
    keys = raw_names or [f"c{i}" for i in range(len(names))]
    width_errors: list[tuple[int, int]] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        width_errors.append((row.expected_columns, row.actual_columns))
        return "error"

    read_options = pacsv.ReadOptions(column_names=None if f.header else keys, block_size=BLOCK_SIZE,
                                     encoding=f.encoding.arrow_name, use_threads=False)
    parse_options = pacsv.ParseOptions(delimiter=f.delimiter, quote_char='"', double_quote=True,
                                       escape_char=False, newlines_in_values=True, ignore_empty_lines=True,
                                       invalid_row_handler=on_invalid_row)
    convert_options = pacsv.ConvertOptions(column_types={k: pa.string() for k in keys}, null_values=[""],
                                           strings_can_be_null=True, quoted_strings_can_be_null=True)
    done = 0
    with f.open_binary() as stream:
        try:
            reader = pacsv.open_csv(stream, read_options=read_options, parse_options=parse_options,
                                    convert_options=convert_options)
            if reader.schema.names != keys or any(t != pa.string() for t in reader.schema.types):
                raise DataError(member.display, 1, None, ", ".join(reader.schema.names),
                                "the header row could not be read consistently")
            for block in reader:
                block = pa.RecordBatch.from_arrays(block.columns, names=names)
                for start in range(0, block.num_rows, batch_rows):
                    raw = block.slice(start, batch_rows)
                    try:
                        yield convert_batch(raw, columns, schema)
                    except BadValue as bad:
                        raise DataError(member.display, f.line_of(done + bad.row), bad.column, bad.value,
                                        bad.reason) from None
                    done += raw.num_rows
        except pa.ArrowInvalid as exc:
            if f.header and done == 0 and sum(1 for _ in f.records()) == 1:
                return  # only a header without a final newline: pyarrow refuses it, it holds no rows
            raise _parse_error(f, len(names), width_errors, exc) from None


def _parse_error(f: _CsvFile, expected: int, width_errors: list, exc: Exception) -> DataError:
    wrong = f.first_wrong_width(expected)
    if wrong is not None:
        line, row = wrong
        text = f.delimiter.join(row)
        hint = " (a quote opened here is never closed?)" if any("\n" in v for v in row) else ""
        return DataError(f.member.display, line, None, text[:200],
                         f"expected {expected} columns, found {len(row)}{hint}")
    if width_errors:
        want, got = width_errors[0]
        return DataError(f.member.display, None, None, "", f"expected {want} columns, found {got}")
    return DataError(f.member.display, None, None, "", f"not readable as CSV ({exc})")
