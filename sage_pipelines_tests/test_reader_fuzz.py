"""Fuzzing the readers with hypothesis.

1. Crash-freedom: random bytes, random CSV-ish text and damaged workbooks, read as each SAGE
   type, raise nothing but the project's DataError / ConfigError.
2. No silent value change: random values of every SAGE type, written by Python's csv module (and
   by openpyxl as XLSX), read back equal, or refused when SAGE's rules refuse them.

`make test` runs a bounded, derandomized budget (the same examples every run, about half a
minute); `pytest -m fuzz_long` runs a large random one. Each test prints its examples in the
run's "figures" summary.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import openpyxl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sage_pipelines.casilla.convert import FALSE_WORDS, TRUE_WORDS
from sage_pipelines.casilla.parser import parse_sage_yaml
from sage_pipelines.casilla.readers import read_member, upload_members
from sage_pipelines.errors import ConfigError, DataError
from sage_pipelines.types import Column, ColumnType, Kind

SAGE_TYPES = ("texto", "decimal", "entero", "fecha", "booleano")
BUDGETS = [pytest.param(1, id="bounded"),
           pytest.param(20, id="long", marks=[pytest.mark.fuzz_long, pytest.mark.timeout(7200)])]


def fuzz(factor: int, examples: int, test: Callable[..., None], *strategies: st.SearchStrategy,
         figures: Callable[[str], None]) -> None:
    """Run `test` over `examples * factor` examples (derandomized for the bounded budget)."""
    tried = 0

    def counted(args: tuple) -> None:
        nonlocal tried
        tried += 1
        test(*args)

    started = time.perf_counter()
    settings(max_examples=examples * factor, deadline=None, derandomize=factor == 1, database=None,
             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])(
        given(st.tuples(*strategies))(counted))()
    figures(f"{tried} examples held in {time.perf_counter() - started:.1f} s")


def catalog(fields: list[tuple[str, str]], file_type: str = "CSV", delimiter: str = ",", header: bool = True,
            encoding: str | None = None):
    fmt = {"type": file_type, "header": header}
    if file_type == "CSV":
        fmt["delimiter"] = delimiter
    if encoding:
        fmt["encoding"] = encoding
    return parse_sage_yaml(yaml.safe_dump({
        "sage_yaml": {"name": "fuzz"},
        "catalogs": {"data": {"name": "data", "filename": "data.csv" if file_type == "CSV" else "data.xlsx",
                              "file_format": fmt,
                              "fields": [{"name": n, "type": t} for n, t in fields]}}}, allow_unicode=True))


def read(sage, data: bytes, suffix: str = ".csv", columns: tuple[Column, ...] | None = None) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(data)
        member = upload_members(sage, path)[0]
        return read_member(member, columns, batch_rows=7).read_all().to_pylist()


# --- 1. crash-freedom --------------------------------------------------------------------------------

CSVISH = st.lists(st.sampled_from(list(',;|\t"\'\n\r \\0123456789.-+eE:TtrufalsSINOñ€😀\x00ab') + ["\r\n"]),
                  max_size=300).map("".join)
ENCODINGS = st.sampled_from(["utf-8", "latin-1", "utf-16", "utf-8-sig"])


@pytest.mark.parametrize("factor", BUDGETS)
@pytest.mark.parametrize("sage_type", SAGE_TYPES)
def test_random_csv_input_raises_only_data_or_config_errors(sage_type: str, factor: int, figures) -> None:
    def check(raw: bytes | None, text: str, encoding: str, delimiter: str, header: bool, declared: bool) -> None:
        sage = catalog([("a", sage_type), ("b", "texto")], delimiter=delimiter, header=header,
                       encoding=encoding if declared and encoding != "utf-8-sig" else None)
        prefix = f"a{delimiter}b\n" if header else ""
        data = raw if raw is not None else (prefix + text).encode(encoding, "replace")
        try:
            read(sage, data)
        except (DataError, ConfigError) as exc:
            assert "\n" not in str(exc)

    fuzz(factor, 150, check, st.one_of(st.none(), st.binary(max_size=300)), CSVISH, ENCODINGS,
         st.sampled_from([",", ";", "|", "\t"]), st.booleans(), st.booleans(), figures=figures)


def good_workbook() -> bytes:
    book = openpyxl.Workbook()
    book.active.title = "Datos"
    for row in (["a", "b"], [1, "x"], [2.5, None], [dt.datetime(2024, 1, 2), True]):
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("factor", BUDGETS)
def test_damaged_workbooks_raise_only_data_or_config_errors(factor: int, figures) -> None:
    original = good_workbook()
    sage = catalog([("a", "decimal"), ("b", "texto")], file_type="EXCEL")

    def check(flips: list[tuple[int, int]], cut: int | None) -> None:
        data = bytearray(original)
        for position, byte in flips:
            data[position % len(data)] = byte
        try:
            read(sage, bytes(data[:cut] if cut is not None else data), suffix=".xlsx")
        except (DataError, ConfigError) as exc:
            assert "\n" not in str(exc)

    fuzz(factor, 100, check, st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=8),
         st.one_of(st.none(), st.integers(0, len(original))), figures=figures)


# --- 2. no silent value change ------------------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
TRICKY_TEXT = st.one_of(TEXT, st.sampled_from(["000123", " padded ", '"', '""', "a,b;c|d\te", "l1\nl2\r\nl3\rl4",
                                              "NULL", "NA", "Año ñandú", "😀 emoji", "\\N", "'", "=1+1"]))


@st.composite
def integer_cell(draw) -> tuple[str, int]:
    value = draw(st.one_of(st.integers(-2 ** 63, 2 ** 63 - 1), st.sampled_from([0, -1, 2 ** 63 - 1, -2 ** 63])))
    text = str(abs(value))
    if draw(st.booleans()):
        text = "0" * draw(st.integers(0, 3)) + text
    sign = "-" if value < 0 else draw(st.sampled_from(["", "+"]))
    pad = draw(st.sampled_from(["", " ", "  "]))
    return f"{pad}{sign}{text}{pad}", value


@st.composite
def decimal_cell(draw, precision: int = 38, scale: int = 10) -> tuple[str, Decimal]:
    whole = draw(st.integers(0, 10 ** (precision - scale) - 1))
    fraction = draw(st.integers(0, 10 ** scale - 1)) if scale else 0
    negative = draw(st.booleans())
    digits = f"{whole}" + (f".{fraction:0{scale}d}" if scale else "")
    value = Decimal(("-" if negative else "") + digits)  # from text: exact, whatever the context
    if scale and draw(st.booleans()):
        digits = digits.rstrip("0").rstrip(".")  # 12.5 rather than 12.5000000000
    if draw(st.booleans()):
        digits = "0" * draw(st.integers(1, 3)) + digits
    if digits.startswith("0.") and draw(st.booleans()):
        digits = digits[1:]  # .5
    sign = "-" if negative else draw(st.sampled_from(["", "+"]))
    return f"{sign}{digits}", value


@st.composite
def date_cell(draw) -> tuple[str, dt.date]:
    value = draw(st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)))
    suffix = draw(st.sampled_from(["", "", " 00:00:00", "T00:00", " 00:00:00.000"]))
    return f"{value.isoformat()}{suffix}", value


@st.composite
def boolean_cell(draw) -> tuple[str, bool]:
    value = draw(st.booleans())
    word = draw(st.sampled_from(TRUE_WORDS if value else FALSE_WORDS))
    word = draw(st.sampled_from([word, word.upper(), word.title()]))
    return word, value


@st.composite
def text_cell(draw) -> tuple[str, str | None]:
    value = draw(TRICKY_TEXT)
    return value, value if value != "" else None  # CSV cannot tell '' from NULL: both read as NULL


CELLS = {"texto": text_cell(), "decimal": decimal_cell(), "entero": integer_cell(), "fecha": date_cell(),
         "booleano": boolean_cell()}
ALL_FIELDS = [(f"c_{t}", t) for t in SAGE_TYPES]


@st.composite
def table_rows(draw, max_rows: int = 12) -> list[list[tuple[str, Any]]]:
    """Rows of (text written, value expected) for every SAGE type; None = an empty cell."""
    return draw(st.lists(st.tuples(*[st.one_of(st.just(("", None)), CELLS[t]) for _, t in ALL_FIELDS])
                         .map(list), max_size=max_rows))


@pytest.mark.parametrize("factor", BUDGETS)
def test_csv_values_of_every_type_read_back_equal(factor: int, figures) -> None:
    def check(rows: list[list[tuple[str, Any]]], delimiter: str, quoting: int, newline: str, encoding: str) -> None:
        sage = catalog(ALL_FIELDS, delimiter=delimiter, encoding=None if encoding == "utf-8-sig" else encoding)
        out = io.StringIO(newline="")
        if newline == "\n" and any("\r" in text for row in rows for text, _ in row):
            newline = "\r\n"  # csv's writer quotes a value holding CR only when CR ends its lines
        writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=newline)
        writer.writerow([n for n, _ in ALL_FIELDS])
        writer.writerows([[text for text, _ in row] for row in rows])
        got = read(sage, out.getvalue().encode(encoding))
        assert got == [{n: value for (n, _), (_, value) in zip(ALL_FIELDS, row)} for row in rows]

    fuzz(factor, 250, check, table_rows(), st.sampled_from([",", ";", "|", "\t"]),
         st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]), st.sampled_from(["\n", "\r\n"]),
         st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]), figures=figures)


@pytest.mark.parametrize("factor", BUDGETS)
def test_decimals_up_to_the_declared_precision_read_back_equal_and_one_digit_more_is_refused(factor, figures):
    sage = catalog([("id", "entero"), ("d", "decimal")])

    @st.composite
    def case(draw):
        precision = draw(st.integers(1, 38))
        scale = draw(st.integers(0, precision))
        return precision, scale, draw(st.lists(decimal_cell(precision, scale), min_size=1, max_size=5))

    def check(drawn, too_long: str) -> None:
        precision, scale, cells = drawn
        columns = (Column("id", ColumnType(Kind.INTEGER)), Column("d", ColumnType(Kind.DECIMAL, precision, scale)))
        lines = ["id,d"] + [f"{i},{text}" for i, (text, _) in enumerate(cells)]
        got = read(sage, ("\n".join(lines) + "\n").encode(), columns=columns)
        assert [r["d"] for r in got] == [value for _, value in cells]
        # One significant digit too many, before or after the point: refused, never rounded.
        extra = "9" * (precision - scale + 1) if too_long == "whole" else "0." + "0" * scale + "1"
        with pytest.raises(DataError) as info:
            read(sage, f"id,d\n0,{extra}\n".encode(), columns=columns)
        assert info.value.line == 2 and info.value.column == "d"

    fuzz(factor, 100, check, case(), st.sampled_from(["whole", "fraction"]), figures=figures)


@st.composite
def excel_cell(draw, sage_type: str) -> tuple[Any, Any]:
    """(cell value written by openpyxl, value expected): numbers in Excel's exact range as
    numbers, anything else as text cells (how exact values must be stored in a workbook)."""
    if sage_type == "entero":
        value = draw(st.integers(-2 ** 63, 2 ** 63 - 1))
        return (value if abs(value) <= 2 ** 53 and draw(st.booleans()) else str(value)), value
    if sage_type == "decimal":
        text, value = draw(decimal_cell())
        as_number = float(value)
        if len(value.normalize().as_tuple().digits) <= 15 and draw(st.booleans()):
            return as_number, Decimal(repr(as_number))
        return text, value
    if sage_type == "fecha":
        value = draw(st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)))
        if value >= dt.date(1900, 3, 1) and draw(st.booleans()):  # Excel's serial dates start there
            return value, value
        return value.isoformat(), value
    if sage_type == "booleano":
        value = draw(st.booleans())
        word = draw(st.sampled_from(TRUE_WORDS if value else FALSE_WORDS))
        return (value if draw(st.booleans()) else word), value
    # XML keeps no CR and no control characters other than tab and LF.
    value = draw(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t\n"),
                         max_size=30))
    return value, value if value != "" else None


@pytest.mark.parametrize("factor", BUDGETS)
def test_xlsx_values_of_every_type_read_back_equal(factor: int, figures) -> None:
    sage = catalog(ALL_FIELDS, file_type="EXCEL")
    row_strategy = st.tuples(*[st.one_of(st.just((None, None)), excel_cell(t)) for _, t in ALL_FIELDS]).map(list)

    def check(rows: list[list[tuple[Any, Any]]]) -> None:
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append([n for n, _ in ALL_FIELDS])
        for row in rows:
            sheet.append([cell for cell, _ in row])
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # text, as Excel stores it (openpyxl would write a formula)
        out = io.BytesIO()
        book.save(out)
        got = read(sage, out.getvalue(), suffix=".xlsx")
        written = [row for row in rows if any(cell not in (None, "") for cell, _ in row)]  # blank rows skipped
        assert got == [{n: value for (n, _), (_, value) in zip(ALL_FIELDS, row)} for row in written]

    fuzz(factor, 60, check, st.lists(row_strategy, max_size=6), figures=figures)


def test_an_excel_number_past_2_to_the_53_is_refused_not_rounded(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["id"])
    book.active.append([2 ** 60])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(DataError) as info:
        read(catalog([("id", "entero")], file_type="EXCEL"), out.getvalue(), suffix=".xlsx")
    assert info.value.line == 2 and info.value.column == "id" and "2^53" in info.value.reason
