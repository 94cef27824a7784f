"""CSV reading: exact values, SAGE's type rules, and errors that name file, line, column and value."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from sage_pipelines.casilla.parser import parse_sage_yaml
from sage_pipelines.casilla.readers import read_catalog_file, read_member, upload_members
from sage_pipelines.errors import ConfigError, DataError
from sage_pipelines.types import Column, ColumnType, Kind, parse_type

VENTAS_DEMO_YAML = """
sage_yaml: {name: demo}
catalogs:
  ventas:
    name: Ventas
    filename: ventas_demo.csv
    file_format: {type: CSV, delimiter: ",", header: true}
    fields:
      - {name: anio, type: entero}
      - {name: mes, type: entero}
      - {name: cliente, type: texto}
      - {name: producto, type: texto}
      - {name: categoria, type: texto}
      - {name: marca, type: texto}
      - {name: cantidad_vendida, type: entero}
      - {name: valor_venta, type: decimal}
      - {name: region, type: texto}
      - {name: canal, type: texto}
"""


def one_catalog(fields: str, header: bool = False, delimiter: str = ",", encoding: str | None = None,
                filename: str = "data.csv"):
    fmt = f'{{type: CSV, delimiter: "{delimiter}", header: {str(header).lower()}'
    fmt += f", encoding: {encoding}}}" if encoding else "}"
    return parse_sage_yaml(f"""
sage_yaml: {{name: t}}
catalogs:
  data:
    name: Data
    filename: {filename}
    file_format: {fmt}
    fields: {fields}
""")


def read_bytes(tmp_path: Path, content: bytes, fields: str, **kw) -> pa.Table:
    sage = one_catalog(fields, **kw)
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    return read_catalog_file(sage, path, "data").read_all()


def refused(tmp_path: Path, content: bytes, fields: str, **kw) -> DataError:
    with pytest.raises(DataError) as info:
        read_bytes(tmp_path, content, fields, **kw)
    return info.value


# --- the real sample file ------------------------------------------------------------------------

def test_ventas_demo_reads_exactly_5000_rows_equal_to_the_file(samples: Path) -> None:
    sage = parse_sage_yaml(VENTAS_DEMO_YAML)
    table = read_catalog_file(sage, samples / "ventas_demo.csv", "ventas").read_all()
    with open(samples / "ventas_demo.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert table.num_rows == len(rows) == 5000
    assert sum(table.column("valor_venta").to_pylist()) == sum(Decimal(r["valor_venta"]) for r in rows)
    assert sum(table.column("cantidad_vendida").to_pylist()) == sum(int(r["cantidad_vendida"]) for r in rows)
    assert table.column("cliente").to_pylist() == [r["cliente"] for r in rows]
    assert table.column("canal").to_pylist() == [r["canal"] for r in rows]
    assert table.column("anio").to_pylist() == [int(r["anio"]) for r in rows]
    assert table.schema.field("valor_venta").type == pa.decimal128(38, 10)


def test_decimal_override_keeps_cents_exactly(samples: Path) -> None:
    sage = parse_sage_yaml(VENTAS_DEMO_YAML)
    columns = sage.catalogs["ventas"].columns({"valor_venta": parse_type("decimal(12,2)")})
    table = read_catalog_file(sage, samples / "ventas_demo.csv", "ventas", columns).read_all()
    assert table.schema.field("valor_venta").type == pa.decimal128(12, 2)
    assert table.column("valor_venta")[0].as_py() == Decimal("2113.72")


# --- tricky inputs, read exactly -----------------------------------------------------------------

TEXT3 = "[{name: a, type: texto}, {name: b, type: texto}, {name: c, type: texto}]"


def test_texto_keeps_leading_zeros_spaces_accents_and_quotes(tmp_path: Path) -> None:
    content = '000123, dos espacios ,"dijo ""hola"" á ñ"\n'.encode()
    table = read_bytes(tmp_path, content, TEXT3)
    assert table.to_pylist() == [{"a": "000123", "b": " dos espacios ", "c": 'dijo "hola" á ñ'}]


def test_empty_and_quoted_empty_cells_are_null(tmp_path: Path) -> None:
    table = read_bytes(tmp_path, b'x,,""\n,NA,NULL\n', TEXT3)
    assert table.to_pylist() == [{"a": "x", "b": None, "c": None}, {"a": None, "b": "NA", "c": "NULL"}]


def test_quoted_delimiters_and_newlines_stay_in_the_field(tmp_path: Path) -> None:
    table = read_bytes(tmp_path, b'1,"a,b","line1\nline2"\r\n2,x,y\n', TEXT3)
    assert table.to_pylist() == [{"a": "1", "b": "a,b", "c": "line1\nline2"}, {"a": "2", "b": "x", "c": "y"}]


def test_latin1_file_is_detected(tmp_path: Path) -> None:
    content = "Ñandú;Perú;año\n".encode("latin-1")
    table = read_bytes(tmp_path, content, TEXT3, delimiter=";")
    assert table.to_pylist() == [{"a": "Ñandú", "b": "Perú", "c": "año"}]


def test_utf8_bom_is_skipped_and_header_matches(tmp_path: Path) -> None:
    content = "\ufeffA , b,C\ncódigo,2,3\n".encode()
    table = read_bytes(tmp_path, content, TEXT3, header=True)
    assert table.to_pylist() == [{"a": "código", "b": "2", "c": "3"}]


def test_declared_encoding_wins(tmp_path: Path) -> None:
    content = "olé,b,c\n".encode("cp1252")
    assert read_bytes(tmp_path, content, TEXT3, encoding="cp1252").column("a").to_pylist() == ["olé"]


def test_header_columns_are_taken_by_name(tmp_path: Path) -> None:
    table = read_bytes(tmp_path, b"c,a,b\n3,1,2\n", TEXT3, header=True)
    assert table.to_pylist() == [{"a": "1", "b": "2", "c": "3"}]


@pytest.mark.parametrize(("spelling", "value"), [
    ("true", True), ("TRUE", True), ("si", True), ("Sí", True), ("SI", True), ("1", True), ("t", True),
    ("Y", True), ("false", False), ("No", False), ("0", False), ("F", False), ("n", False),
])
def test_each_boolean_spelling(tmp_path: Path, spelling: str, value: bool) -> None:
    table = read_bytes(tmp_path, f"{spelling}\n".encode(), "[{name: b, type: booleano}]")
    assert table.column("b").to_pylist() == [value]


def test_numbers_dates_and_booleans_convert_exactly(tmp_path: Path) -> None:
    fields = ("[{name: d, type: decimal}, {name: e, type: entero}, {name: f, type: fecha},"
              " {name: g, type: booleano}]")
    content = (b"12345678901234567890.1234567891,-9223372036854775808,2024-02-29,true\n"
               b" .5 ,+42,2023-12-31 00:00:00,\n"
               b"-0.0000000001, , ,no\n")
    table = read_bytes(tmp_path, content, fields)
    assert table.to_pylist() == [
        {"d": Decimal("12345678901234567890.1234567891"), "e": -(2**63), "f": dt.date(2024, 2, 29), "g": True},
        {"d": Decimal("0.5"), "e": 42, "f": dt.date(2023, 12, 31), "g": None},
        {"d": Decimal("-0.0000000001"), "e": None, "f": None, "g": False},
    ]


def test_timestamp_override_keeps_the_time(tmp_path: Path) -> None:
    sage = one_catalog("[{name: f, type: fecha}]")
    path = tmp_path / "data.csv"
    path.write_bytes(b"2024-01-02 10:11:12\n2024-01-03\n")
    columns = (Column("f", ColumnType(Kind.TIMESTAMP)),)
    table = read_catalog_file(sage, path, "data", columns).read_all()
    assert table.column("f").to_pylist() == [dt.datetime(2024, 1, 2, 10, 11, 12), dt.datetime(2024, 1, 3)]


# --- tricky inputs, refused with file, line, column and value ---------------------------------

@pytest.mark.parametrize(("fields", "content", "line", "column", "value", "reason"), [
    ("[{name: b, type: booleano}]", b"true\nverdadero\n", 2, "b", "verdadero", "not a boolean"),
    ("[{name: f, type: fecha}]", b"2023-02-28\n2023-02-30\n", 2, "f", "2023-02-30", "not a valid calendar date"),
    ("[{name: f, type: fecha}]", b"2023-02-28\n2023-02-01 10:00:00\n", 2, "f", "2023-02-01 10:00:00",
     "has a time of day"),
    ("[{name: f, type: fecha}]", b"28/02/2023\n", 1, "f", "28/02/2023", "not a date"),
    ("[{name: e, type: entero}]", b"1\n1.5\n", 2, "e", "1.5", "not a whole number"),
    ("[{name: e, type: entero}]", b"1e3\n", 1, "e", "1e3", "not a whole number"),
    ("[{name: e, type: entero}]", b"1\n9223372036854775808\n", 2, "e", "9223372036854775808", "out of range"),
    ("[{name: d, type: decimal}]", b"1.12345678901\n", 1, "d", "1.12345678901", "more than 10 digits after"),
    ("[{name: d, type: decimal}]", b"1\n12345678901234567890123456789\n", 2, "d",
     "12345678901234567890123456789", "more than 28 digits before"),
    ("[{name: d, type: decimal}]", b"1,5\n", 1, None, "1,5", "expected 1 columns, found 2"),
    ("[{name: d, type: decimal}]", b"1e5\n", 1, "d", "1e5", "not a decimal number"),
    ("[{name: d, type: decimal}]", b"abc\n", 1, "d", "abc", "not a decimal number"),
])
def test_bad_values_are_refused_with_their_place(tmp_path: Path, fields, content, line, column, value,
                                                  reason) -> None:
    err = refused(tmp_path, content, fields)
    assert (err.file, err.line, err.column, err.value) == (str(tmp_path / "data.csv"), line, column, value)
    assert reason in err.reason


def test_line_numbers_count_header_and_multiline_fields(tmp_path: Path) -> None:
    content = b'a,b\n"x\ny\nz",1\n\nq,2\nw,oops\n'
    err = refused(tmp_path, content, "[{name: a, type: texto}, {name: b, type: entero}]", header=True)
    assert (err.line, err.column, err.value) == (7, "b", "oops")


def test_too_many_and_too_few_columns_name_the_line(tmp_path: Path) -> None:
    fields = "[{name: a, type: texto}, {name: b, type: texto}]"
    err = refused(tmp_path, b'a,b\n"1\n2",3\n4,5,6\n', fields, header=True)
    assert (err.line, err.reason) == (4, "expected 2 columns, found 3")
    err = refused(tmp_path, b"1,2\n3\n", fields)
    assert (err.line, err.reason) == (2, "expected 2 columns, found 1")


def test_header_that_does_not_match_is_refused(tmp_path: Path) -> None:
    err = refused(tmp_path, b"a,b,x\n1,2,3\n", TEXT3, header=True)
    assert (err.line, err.column) == (1, "x") and "not a field" in err.reason
    err = refused(tmp_path, b"a,b\n1,2\n", TEXT3, header=True)
    assert (err.line, err.column) == (1, "c") and "header lacks field 'c'" in err.reason


def test_errors_surface_while_streaming_after_good_batches(tmp_path: Path) -> None:
    sage = one_catalog("[{name: e, type: entero}]")
    path = tmp_path / "data.csv"
    path.write_bytes(b"".join(b"%d\n" % i for i in range(1000)) + b"x\n")
    reader = read_catalog_file(sage, path, "data")
    member = upload_members(sage, path)[0]
    assert member.display == str(path)
    got = 0
    with pytest.raises(DataError) as info:
        for batch in read_member(member, batch_rows=100):
            got += batch.num_rows
    assert got == 1000 and info.value.line == 1001
    reader.close()


def test_large_file_streams_in_bounded_batches(tmp_path: Path) -> None:
    sage = one_catalog("[{name: id, type: entero}, {name: code, type: texto}, {name: amount, type: decimal}]")
    path = tmp_path / "data.csv"
    rows = 300_000
    with open(path, "w") as fh:
        for i in range(rows):
            fh.write(f"{i},{i:08d},{i}.{i % 100:02d}\n")
    batches = 0
    total_ids = 0
    total_amount = Decimal(0)
    for batch in read_catalog_file(sage, path, "data"):
        assert batch.num_rows <= 65_536
        batches += 1
        total_ids += sum(batch.column(0).to_pylist())
        total_amount += sum(batch.column(2).to_pylist())
    assert batches >= 5
    assert total_ids == rows * (rows - 1) // 2
    assert total_amount == sum(Decimal(f"{i}.{i % 100:02d}") for i in range(rows))


def test_unknown_column_override_is_a_config_error(tmp_path: Path) -> None:
    sage = one_catalog(TEXT3)
    path = tmp_path / "data.csv"
    path.write_bytes(b"1,2,3\n")
    with pytest.raises(ConfigError, match="'z' is not a field"):
        read_catalog_file(sage, path, "data", (Column("z", ColumnType(Kind.TEXT)),))


def test_column_subset_and_non_nullable(tmp_path: Path) -> None:
    sage = one_catalog(TEXT3)
    path = tmp_path / "data.csv"
    path.write_bytes(b"1,2,3\n4,,6\n")
    table = read_catalog_file(sage, path, "data", (Column("c", ColumnType(Kind.TEXT)),)).read_all()
    assert table.to_pylist() == [{"c": "3"}, {"c": "6"}]
    with pytest.raises(DataError) as info:
        read_catalog_file(sage, path, "data", (Column("b", ColumnType(Kind.TEXT), nullable=False),)).read_all()
    assert (info.value.line, info.value.column) == (2, "b")


@pytest.mark.parametrize(("content", "header"), [
    (b"", False), (b"\xef\xbb\xbf", False), (b"\n\n", False), (b"a,b,c\n", True), (b"a,b,c", True),
])
def test_empty_files_and_header_only_files_hold_no_rows(tmp_path: Path, content: bytes, header: bool) -> None:
    table = read_bytes(tmp_path, content, TEXT3, header=header)
    assert table.num_rows == 0 and table.column_names == ["a", "b", "c"]


def test_empty_file_with_a_declared_header_is_refused(tmp_path: Path) -> None:
    err = refused(tmp_path, b"", TEXT3, header=True)
    assert err.line == 1 and "declares a header row" in err.reason


def test_unclosed_quote_is_refused_at_its_line(tmp_path: Path) -> None:
    err = refused(tmp_path, b'x,1\n"unterminated,2\n', "[{name: a, type: texto}, {name: b, type: entero}]")
    assert err.line == 2 and "never closed" in err.reason
