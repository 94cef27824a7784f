"""Malformed quoting that pyarrow's CSV parser would accept without a word.

pyarrow reads a quote that is never closed as one value running to the end of the file, and
`"ab"c` as `abc`: both change the data silently. Checking quoting exactly takes a state machine
over every character, so it is done in two steps. While pyarrow reads, `QuoteWatch` sees each
raw chunk and runs two C-speed tests on it: the number of quote characters (a file whose quotes
are all well formed has an even number) and a regex for an odd run of quotes with text on both
sides (`"ab"c`; it also matches a quote inside an unquoted value, `12" pipe`, which is taken
literally). Only when one of them fires, or the file's last value holds a line break (what an
unclosed quote leaves behind), `find_quote_error` re-reads the file with Python's csv module in
strict mode, which stops at the first malformed record; a short walk over that record then names
the value. A file of well-formed quotes never pays for the slow scan.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from typing import BinaryIO, Callable, TextIO

import numpy as np

QUOTE = '"'
_WINDOW = 1 << 20  # characters of the malformed record walked to find the value


class QuoteWatch:
    """Wraps the raw byte stream pyarrow reads and notes whether quoting looks suspicious.

    `delimiter` is the delimiter's single byte in the file's encoding, or None when the
    delimiter or the quote is not one byte there (UTF-16): then every file is scanned.
    """

    def __init__(self, stream: BinaryIO, delimiter: bytes | None) -> None:
        self.stream = stream
        self.quotes = 0
        self.matched = delimiter is None
        self._tail = b""
        self._not_other = np.zeros(256, dtype=bool)
        if delimiter is not None:
            self._not_other[[delimiter[0], ord("\r"), ord("\n"), ord(QUOTE)]] = True
        # Every byte as its class: `a` other, `|` a separator (delimiter or line break), `"`.
        self._classes = bytes(ord('"') if b == ord(QUOTE) else ord("|") if flag else ord("a")
                              for b, flag in enumerate(self._not_other))

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        if chunk and not self.matched:
            quotes = chunk.count(b'"')
            self.quotes += quotes
            window = self._tail + chunk
            self.matched = bool(quotes or b'"' in self._tail) and self._suspicious(window)
            # Keep the last character and any run of quotes before it: a run may span chunks.
            self._tail = window[-(len(window) - len(window.rstrip(b'"')) + 1):]
        return chunk

    def _suspicious(self, window: bytes) -> bool:
        """A suspicious run is one quote between other characters, or three or more after one:
        files with quotes only around values (and `""` inside them) show neither, so two
        substring searches settle them and the exact test runs only when one is found."""
        classes = window.translate(self._classes)
        return (b'a"a' in classes or b'a"""' in classes) and self._odd_run_inside(window)

    def _odd_run_inside(self, window: bytes) -> bool:
        """Whether `window` holds an odd run of quotes with a character other than the
        delimiter, a line break or a quote on both sides (the regex `x(?:"")*"x`), vectorised:
        a Python regex over every byte would cost seconds per 100 MB."""
        data = np.frombuffer(window, dtype=np.uint8)
        is_quote = data == ord(QUOTE)
        edges = np.flatnonzero(np.diff(is_quote.view(np.int8)))  # data[i] and data[i + 1] differ
        # A run starts after an edge whose left byte is not a quote and ends at an edge whose
        # left byte is one; runs touching either end of the window lack a neighbour, and count not.
        starts = edges[~is_quote[edges]] + 1
        ends = edges[is_quote[edges]]
        if starts.size == 0:
            return False
        ends = ends[ends >= starts[0]]
        starts = starts[:ends.size]
        odd = (ends - starts) % 2 == 0  # a run holds ends - starts + 1 quotes
        hit = odd & ~self._not_other[data[starts - 1]] & ~self._not_other[data[ends + 1]]
        return bool(hit.any())

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self.stream.closed

    def close(self) -> None:
        self.stream.close()

    def suspect(self, last_value: str | None) -> bool:
        """Whether the file may hold malformed quoting (`last_value`: the file's last value)."""
        return (self.matched or self.quotes % 2 == 1
                or (last_value is not None and ("\n" in last_value or "\r" in last_value)))


@dataclass(frozen=True)
class QuoteError:
    line: int  # physical line (1-based) where the malformed value starts
    field: int | None  # 0-based field of the record, when the walk found it
    text: str  # the start of the malformed value
    reason: str


def delimiter_byte(delimiter: str, codec: str) -> bytes | None:
    """The delimiter as one byte of `codec`, or None when it or the quote is not one byte there."""
    try:
        encoded, quote = delimiter.encode(codec), QUOTE.encode(codec)
    except (UnicodeEncodeError, LookupError):
        return None
    return encoded if len(encoded) == 1 and quote == b'"' else None


def find_quote_error(open_text: Callable[[], TextIO], delimiter: str) -> QuoteError | None:
    """The first record whose quoting is malformed (never closed, or text after the closing
    quote), scanning the whole file with Python's csv module in strict mode; None if none."""
    csv.field_size_limit(sys.maxsize)
    with open_text() as text:
        reader = csv.reader(text, delimiter=delimiter, quotechar=QUOTE, doublequote=True, strict=True)
        while True:
            start = reader.line_num + 1
            try:
                next(reader)
            except StopIteration:
                return None
            except csv.Error as exc:
                unclosed = "end of data" in str(exc)
                break
    reason = ("a quote opened here is never closed" if unclosed
              else "text follows the closing quote of a quoted value")
    with open_text() as text:
        for _ in range(start - 1):
            text.readline()
        record = text.read(_WINDOW)
    return _walk(record, delimiter, start, reason)


def _walk(record: str, delimiter: str, line: int, reason: str) -> QuoteError:
    """Find the malformed value in `record` (the text from the record's first line on)."""
    i, field, n = 0, 0, len(record)
    while i < n:
        if record[i] == QUOTE:
            j = i + 1
            while True:
                k = record.find(QUOTE, j)
                if k < 0:
                    return _error(record, i, field, line, record[i:i + 60], reason)
                if record[k + 1:k + 2] == QUOTE:
                    j = k + 2
                    continue
                break
            after = record[k + 1:k + 2]
            if after not in (delimiter, "\r", "\n", ""):
                end = _value_end(record, k + 1, delimiter)
                return _error(record, i, field, line, record[i:min(end, i + 200)], reason)
            i = k + 1
        else:
            i = _value_end(record, i, delimiter)
        if i >= n or record[i] != delimiter:
            break  # the record ended without a malformed value in the walked window
        field += 1
        i += 1
    return QuoteError(line, None, record[:60], reason)


def _value_end(record: str, start: int, delimiter: str) -> int:
    ends = [p for p in (record.find(delimiter, start), record.find("\n", start), record.find("\r", start)) if p >= 0]
    return min(ends) if ends else len(record)


def _error(record: str, at: int, field: int, line: int, text: str, reason: str) -> QuoteError:
    before = record[:at]
    breaks = before.count("\n") + before.count("\r") - before.count("\r\n")
    return QuoteError(line + breaks, field, text, reason)
