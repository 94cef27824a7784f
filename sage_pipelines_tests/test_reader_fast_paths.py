"""The reader's fast paths decide exactly as the plain definitions they replace.

The quote watch tests bytes with substring searches and numpy instead of a regex over every
byte; decimals that fit are cast in one pass instead of being split into digits first; the
reader parses and converts ahead of its consumer in a thread. Each must be indistinguishable
from the slow way: same flags, same values, same errors, in the same order.
"""

from __future__ import annotations

import io
import re
import threading
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sage_pipelines.casilla.convert import BadValue, convert_column
from sage_pipelines.casilla.quoting import QuoteWatch
from sage_pipelines.read_ahead import read_ahead
from sage_pipelines.types import Column, ColumnType, Kind


def _regex_flags(data: bytes, delimiter: bytes) -> bool:
    """The watch's definition: an odd run of quotes between two other characters."""
    other = b"[^" + re.escape(delimiter) + b'\r\n"]'
    return re.search(other + b'(?:"")*"' + other, data) is not None


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from([b'"', b",", b";", b"a", b"\n", b"\r", b"\xc3\xb1"]), max_size=40),
       st.sampled_from([b",", b";"]), st.integers(1, 9))
def test_quote_watch_flags_a_stream_read_in_chunks_exactly_when_the_regex_flags_the_whole(parts, delimiter, size):
    data = b"".join(parts)
    watch = QuoteWatch(io.BytesIO(data), delimiter)
    while watch.read(size):
        pass
    assert watch.matched == _regex_flags(data, delimiter)


def _decimal_or_problem(text: str | None, precision: int, scale: int) -> object:
    column = Column("d", ColumnType(Kind.DECIMAL, precision, scale))
    try:
        return convert_column(pa.array([text], pa.string()), column)[0].as_py()
    except BadValue as bad:
        return bad.reason


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.from_regex(r"\A[+-]?0{0,3}[0-9]{0,14}(\.[0-9]{0,5})?\Z"), st.sampled_from([(12, 2), (5, 0), (38, 4), (3, 3)]))
def test_a_decimal_converts_to_its_exact_value_when_it_fits_and_is_refused_when_not(text, type_):
    precision, scale = type_
    got = _decimal_or_problem(text, precision, scale)
    if text == "":
        assert got is None
        return
    if text.strip("+-.") == "":
        assert got == "not a decimal number"
        return
    value = Decimal(text)
    fits = value == value.quantize(Decimal(1).scaleb(-scale)) and abs(value) < 10 ** (precision - scale)
    if fits:
        assert got == value
    else:
        assert isinstance(got, str) and "digits" in got


def test_read_ahead_yields_every_item_in_order_then_the_producers_error():
    def produce():
        yield from range(5)
        raise ValueError("row 5 is bad")

    seen = []
    with pytest.raises(ValueError, match="row 5 is bad"):
        for item in read_ahead(produce(), depth=2):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def test_read_ahead_stops_and_closes_the_producer_when_the_consumer_stops_early():
    closed = threading.Event()

    def produce():
        try:
            yield from range(1000)
        finally:
            closed.set()

    items = read_ahead(produce(), depth=2)
    assert next(items) == 0
    items.close()
    assert closed.is_set()
