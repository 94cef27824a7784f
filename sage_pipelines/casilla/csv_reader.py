"""Stream a CSV member as typed Arrow record batches.

pyarrow's streaming CSV reader does the parsing (quotes, delimiters and newlines inside fields,
transcoding Latin-1 or UTF-16) one block at a time, reading every column as text; `convert`
types the columns with Arrow compute. Both run in a thread ahead of the consumer (`read_ahead`). Line numbers are not tracked on the hot path: when
something fails, the file is re-scanned with Python's csv module up to the failing record, which
gives the physical line (header and multi-line fields counted) for the error message.

pyarrow accepts some broken files silently; the reader refuses them instead: malformed quoting
(see `quoting`), a NUL character (see `convert`), and a file declared in a single-byte encoding
whose bytes are UTF-8. A record longer than `BLOCK_SIZE` cannot be parsed in blocks and is
refused, naming its line.
"""

from __future__ import annotations

import csv
import io
import sys
from typing import TYPE_CHECKING, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

from sage_pipelines.casilla.convert import BadValue, convert_batch
from sage_pipelines.casilla.encoding import WIDE_BOMS, TextEncoding, detect_encoding, utf8_text
from sage_pipelines.casilla.header import map_header
from sage_pipelines.casilla.quoting import QuoteWatch, delimiter_byte, find_quote_error
from sage_pipelines.read_ahead import read_ahead
from sage_pipelines.errors import DataError
from sage_pipelines.types import Column, arrow_schema

if TYPE_CHECKING:
    from sage_pipelines.casilla.readers import UploadMember

# Bytes pyarrow parses at a time; bounds memory together with batch_rows. A record (one row,
# all its fields) of up to this size is always read; a longer one only when it spans no more
# than two blocks, else it is refused naming its line.
BLOCK_SIZE = 16 << 20
# Converted batches waiting for the consumer: parsing and converting run in a thread of their
# own, overlapping the destination's load (see `read_ahead`); memory is this many batches more.
READ_AHEAD_BATCHES = 2


class _CsvFile:
    """One CSV member with its decided encoding; knows how to re-scan it for line numbers."""

    def __init__(self, member: "UploadMember") -> None:
        self.member = member
        fmt = member.catalog.file_format
        self.delimiter = fmt.delimiter or ","
        self.header = fmt.header
        self.fields = [f.name for f in member.catalog.fields]
        self.required = frozenset(f.name for f in member.catalog.fields if f.required)
        self.encoding: TextEncoding = detect_encoding(member.open, fmt.encoding)

    def open_binary(self) -> io.BufferedIOBase:
        stream = self.member.open()
        if self.encoding.skip:
            stream.read(self.encoding.skip)
        return stream

    def open_text(self, errors: str = "replace", codec: str | None = None) -> io.TextIOWrapper:
        return io.TextIOWrapper(self.open_binary(), encoding=codec or self.encoding.codec, errors=errors,
                                newline="")

    def records(self, errors: str = "replace", codec: str | None = None) -> Iterator[tuple[int, list[str]]]:
        """(first physical line, fields) of every non-blank record, header included."""
        csv.field_size_limit(sys.maxsize)
        with self.open_text(errors, codec) as text:
            reader = csv.reader(text, delimiter=self.delimiter, quotechar='"', doublequote=True, strict=False)
            end = 0
            for row in reader:
                start, end = end + 1, reader.line_num
                if row:
                    yield start, row

    def column_name(self, index: int, names: list[str] | None) -> str | None:
        names = names if names is not None else self.fields
        return names[index] if index is not None and 0 <= index < len(names) else None

    def first_value(self, test, names: list[str] | None, errors: str = "replace",
                    codec: str | None = None) -> tuple[int, str | None, str] | None:
        """(line, column, value) of the first value, header included, for which `test` holds."""
        for line, row in self.records(errors, codec):
            for i, value in enumerate(row):
                if test(value):
                    return line + value_line_offset(row, i), self.column_name(i, names), value
        return None

    def undecodable(self, names: list[str] | None, reason: str = "") -> DataError | None:
        """The first value holding bytes that are not text in the file's encoding (None when
        every byte decodes: the problem is elsewhere)."""
        codec = self.encoding.codec.upper() if self.encoding.codec.startswith("utf") else self.encoding.codec
        try:  # undecodable bytes become lone surrogates, shown back as \xNN
            found = self.first_value(_has_undecodable, names, errors="surrogateescape")
        except UnicodeError:  # codecs such as UTF-16 cannot escape: fall back to U+FFFD
            found = self.first_value(lambda v: "\ufffd" in v, names)
        hint = ("save the file as UTF-8, or declare its encoding, e.g. latin-1" if self.encoding.is_utf8
                else "check the declared encoding")
        if found is None:
            return DataError(self.member.display, None, None, None, f"not {codec} text ({reason}): {hint}") \
                if reason else None
        line, column, value = found
        shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return DataError(self.member.display, line, column, shown, f"not {codec} text ({hint})")

    def wide_without_bom(self) -> DataError | None:
        """A file declared `utf-16` / `utf-32` (byte order unknown) must start with its mark."""
        if self.encoding.codec not in ("utf-16", "utf-32"):
            return None
        with self.member.open() as stream:
            head = stream.read(4)
        if any(head.startswith(mark) for mark in WIDE_BOMS):
            return None
        return DataError(self.member.display, 1, None, None,
                         f"declared {self.encoding.codec} but the file has no byte-order mark: "
                         f"declare {self.encoding.codec}-le or {self.encoding.codec}-be")

    def mismatched_utf8(self) -> DataError | None:
        """A file declared in a single-byte encoding whose bytes are UTF-8 with accents: read as
        declared, `Año` would become `AÃ±o`; refuse it, naming the first such value."""
        if not self.member.catalog.file_format.encoding or self.encoding.is_utf8 or self.encoding.is_wide:
            return None
        if not utf8_text(self.member.open):
            return None
        found = self.first_value(lambda v: not v.isascii(), None, codec="utf-8")
        line, column, value = found if found is not None else (None, None, "")
        return DataError(self.member.display, line, column, value,
                         f"the file is UTF-8 but the catalog declares encoding "
                         f"{self.member.catalog.file_format.encoding!r} (it would read "
                         f"{value.encode('utf-8').decode(self.encoding.codec, 'replace')!r}): remove the encoding "
                         "or declare utf-8")

    def oversized_record(self) -> DataError:
        for line, row in self.records():
            text = self.delimiter.join(row)
            if len(text.encode("utf-8", "surrogatepass")) > BLOCK_SIZE:
                return DataError(self.member.display, line, None, text[:60] + "...",
                                 f"a record longer than {BLOCK_SIZE >> 20} MiB (the longest the reader is sure to take)")
        return DataError(self.member.display, None, None, None,
                         f"a record longer than {BLOCK_SIZE >> 20} MiB (the longest the reader is sure to take)")

    def quote_error(self, names: list[str] | None) -> DataError | None:
        problem = find_quote_error(self.open_text, self.delimiter)
        if problem is None:
            return None
        return DataError(self.member.display, problem.line, self.column_name(problem.field, names),
                         problem.text, problem.reason)

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


def value_line_offset(row: list[str], index: int) -> int:
    """Line breaks inside the values before `row[index]` (a multi-line record's later lines)."""
    before = "".join(row[:index])
    return before.count("\n") + before.count("\r") - before.count("\r\n")


def _file_columns(f: _CsvFile) -> list[str]:
    """The catalog field each file column holds, in file order (checks the header)."""
    if not f.header:
        return list(f.fields)
    names = f.header_names()
    if names is None:
        raise DataError(f.member.display, 1, None, None, "the file is empty but the catalog declares a header row")
    try:
        return map_header(f.member.display, f.member.catalog, names, 1)
    except DataError as exc:
        # A header that does not match may only be the symptom of broken quoting or bytes.
        raise f.quote_error(None) or f.undecodable(None) or exc from None


def read_csv(member: "UploadMember", columns: tuple[Column, ...], batch_rows: int) -> pa.RecordBatchReader:
    """A lazy reader of `member` as batches of at most `batch_rows` rows with `columns`' schema."""
    schema = arrow_schema(columns)
    return pa.RecordBatchReader.from_batches(
        schema, read_ahead(_batches(member, columns, schema, batch_rows), READ_AHEAD_BATCHES))


def _batches(member: "UploadMember", columns: tuple[Column, ...], schema: pa.Schema,
             batch_rows: int) -> Iterator[pa.RecordBatch]:
    f = _CsvFile(member)
    if member.size <= f.encoding.skip:
        if f.header:
            raise DataError(member.display, 1, None, None, "the file is empty but the catalog declares a header row")
        return  # an empty headerless file holds no rows
    problem = f.mismatched_utf8() or f.wide_without_bom()
    if problem is not None:
        raise problem
    names = _file_columns(f)
    # With a header, pyarrow reads it too, and each column is requested as text under the
    # name just parsed; without one, columns get positional names.
    raw_names = f.header_names() if f.header else None
    keys = raw_names or [f"c{i}" for i in range(len(names))]
    read_options = pacsv.ReadOptions(column_names=None if f.header else keys, block_size=BLOCK_SIZE,
                                     encoding=f.encoding.arrow_name, use_threads=True)
    parse_options = pacsv.ParseOptions(delimiter=f.delimiter, quote_char='"', double_quote=True,
                                       escape_char=False, newlines_in_values=True, ignore_empty_lines=True)
    convert_options = pacsv.ConvertOptions(column_types={k: pa.string() for k in keys}, null_values=[""],
                                           strings_can_be_null=True, quoted_strings_can_be_null=True)
    done = 0
    last_value: str | None = None
    with f.open_binary() as stream:
        watch = QuoteWatch(stream, delimiter_byte(f.delimiter, f.encoding.codec) if not f.encoding.is_wide else None)
        try:
            reader = pacsv.open_csv(watch, read_options=read_options, parse_options=parse_options,
                                    convert_options=convert_options)
            if reader.schema.names != keys or any(t != pa.string() for t in reader.schema.types):
                raise DataError(member.display, 1, None, ", ".join(reader.schema.names),
                                "the header row could not be read consistently")
            for block in reader:
                block = pa.RecordBatch.from_arrays(block.columns, names=names)
                if block.num_rows:
                    last_value = block.column(block.num_columns - 1)[-1].as_py()
                for start in range(0, block.num_rows, batch_rows):
                    raw = block.slice(start, batch_rows)
                    try:
                        yield convert_batch(raw, columns, schema, f.required)
                    except BadValue as bad:
                        raise _bad_value(f, names, done + bad.row, bad) from None
                    done += raw.num_rows
        except pa.ArrowInvalid as exc:
            if f.header and done == 0 and sum(1 for _ in f.records()) == 1:
                return  # only a header without a final newline: pyarrow refuses it, it holds no rows
            raise _parse_error(f, names, exc) from None
        except UnicodeError as exc:  # raised by the codec pyarrow transcodes with (not UTF-8)
            raise f.undecodable(names, exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)) from None
    if watch.suspect(last_value):
        problem = f.quote_error(names)
        if problem is not None:
            raise problem


def _bad_value(f: _CsvFile, names: list[str], row: int, bad: BadValue) -> DataError:
    """The value that does not convert, or broken quoting before it (its likely cause)."""
    line = f.line_of(row)
    quoting = f.quote_error(names)
    if quoting is not None and (line is None or quoting.line <= line):
        return quoting
    return DataError(f.member.display, line, bad.column, bad.value, bad.reason)


def _parse_error(f: _CsvFile, names: list[str], exc: Exception) -> DataError:
    """Why pyarrow could not parse the file, naming the line (slow path: re-scans the file)."""
    problem = f.quote_error(names)
    if problem is not None:
        return problem
    if "invalid UTF8" in str(exc):
        problem = f.undecodable(names)
        if problem is not None:
            return problem
    if "straddl" in str(exc):
        return f.oversized_record()
    expected = len(names)
    wrong = f.first_wrong_width(expected)
    if wrong is not None:
        line, row = wrong
        text = f.delimiter.join(row)
        return DataError(f.member.display, line, None, text[:200], f"expected {expected} columns, found {len(row)}")
    return DataError(f.member.display, None, None, None, f"not readable as CSV ({exc})")


def _has_undecodable(value: str) -> bool:
    """Whether a value decoded with errors="surrogateescape" held bytes that are not UTF-8."""
    return any("\udc80" <= ch <= "\udcff" for ch in value)
