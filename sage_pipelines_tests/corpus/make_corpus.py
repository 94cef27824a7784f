"""Write the corpus's data files (`files/`): run `python sage_pipelines_tests/corpus/make_corpus.py`.

The files are committed; this script is how each was made (bytes that an editor would not keep:
Latin-1, UTF-16, NUL, CR line ends, damaged ZIP headers, workbooks). It is deterministic apart
from the timestamps inside ZIP and XLSX containers. What each file must do is in manifest.yaml.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import struct
import zipfile
from pathlib import Path

import openpyxl

FILES = Path(__file__).resolve().parent / "files"
HEADER = "id,nombre,monto,fecha,activo"
GOOD_ROWS = ["1,Ana,10.50,2024-01-15,true", "2,Bruno,0,2024-02-29,false", "3,,,,"]
FIXED_TIME = (2024, 1, 1, 0, 0, 0)


def csv_text(*rows: str, header: str = HEADER, end: str = "\n") -> str:
    return end.join([header, *rows]) + end


def write(name: str, data: bytes | str, encoding: str = "utf-8") -> None:
    (FILES / name).write_bytes(data if isinstance(data, bytes) else data.encode(encoding))


def zip_bytes(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, FIXED_TIME), data, compress_type=method)
    return out.getvalue()


def patch_headers(data: bytes, local_offset: int, central_offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one field in the first member's local header and in its central directory entry."""
    raw = bytearray(data)
    local = raw.find(b"PK\x03\x04")
    central = raw.rfind(b"PK\x01\x02")
    struct.pack_into(fmt, raw, local + local_offset, value)
    struct.pack_into(fmt, raw, central + central_offset, value)
    return bytes(raw)


def workbook(sheet: str, rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    for row in rows:
        ws.append(row)
    book.properties.created = book.properties.modified = dt.datetime(2024, 1, 1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main() -> None:
    FILES.mkdir(exist_ok=True)
    good = csv_text(*GOOD_ROWS)
    # --- accepted: read exactly -------------------------------------------------------------
    write("good.csv", good)
    write("utf8_bom.csv", codecs.BOM_UTF8 + csv_text("4,Año ñandú,1.5,2024-03-01,si").encode())
    write("latin1_undeclared.csv", csv_text("5,Peña,2.25,2024-03-02,no"), "latin-1")
    write("utf16_bom.csv", csv_text("6,Ñoño €,3,2024-03-03,t"), "utf-16")
    write("mixed_line_endings.csv", HEADER + "\r\n7,crlf,1,2024-01-01,1\n8,lf,2,2024-01-02,0\r9,cr,3,2024-01-03,y\r\n")
    write("quoted_newlines.csv", csv_text('10,"línea 1\r\nlínea 2, con coma y ""comillas""",4,2024-01-04,n'))
    write("header_only.csv", HEADER + "\n")
    write("header_only_no_newline.csv", HEADER)
    write("empty_noheader.csv", b"")
    write("stray_quote_kept.csv", csv_text('11,12" pipe,5,2024-01-05,false'))
    write("int64_edges.csv", csv_text("9223372036854775807,max,,,", "-9223372036854775808,min,,,"))
    write("decimal_at_limits.csv", csv_text("12,a,999999999999999999999999999.9999999999,,",
                                            "13,b,-0.0000000001,,", "14,c,000012.5000000000000,,"))
    # --- refused: encodings ----------------------------------------------------------------
    write("latin1_declared_utf8_bytes.csv", csv_text("1,plain,1,2024-01-01,true", "2,Año,1,2024-01-01,true"))
    write("utf8_declared_latin1_bytes.csv", csv_text("1,plain,1,2024-01-01,true", "2,Año,1,2024-01-01,true"),
          "latin-1")
    write("bom_then_latin1_bytes.csv", codecs.BOM_UTF8 + csv_text("1,ok,1,,", "2,ok,1,,", "3,café,1,,").encode("latin-1"))
    # --- refused: structure -------------------------------------------------------------------
    write("unclosed_quote_last.csv", csv_text("1,ok,1,,", '2,"never closed,1,,', "3,swallowed,1,,"))
    write("unclosed_quote_middle.csv", csv_text("1,ok,1,,", '2,"open,1,2024-01-01,true'))
    write("text_after_closing_quote.csv", csv_text("1,ok,1,,", '2,"quoted"tail,1,,'))
    write("ragged_more_columns.csv", csv_text("1,a,1,,", "2,b,1,,,extra"))
    write("ragged_fewer_columns.csv", csv_text("1,a,1,,", "2,b,1"))
    write("duplicate_header.csv", csv_text("1,a,1,2024-01-01,true", header="id,nombre,monto,fecha,nombre"))
    write("missing_header_column.csv", csv_text("1,a,1,2024-01-01", header="id,nombre,monto,fecha"))
    write("unknown_header_column.csv", csv_text("1,a,1,2024-01-01,true", header="id,nombre,monto,fecha,activa"))
    write("headerless_data_first.csv", "1,a,1,2024-01-01,true\n")
    write("empty.csv", b"")
    write("blank_lines_only.csv", "\n\r\n\n")
    write("nul_byte_in_text.csv", csv_text("1,ok,1,,", "2,nul\x00here,1,,"))
    write("nul_byte_in_number.csv", csv_text("1,ok,1\x00,,"))
    write("binary_garbage.csv", bytes(range(256)) * 4)
    # --- refused: values --------------------------------------------------------------------------
    write("integer_with_decimals.csv", csv_text("1,a,1,,", "2.5,b,1,,"))
    write("integer_overflow.csv", csv_text("9223372036854775808,a,1,,"))
    write("integer_thousands.csv", csv_text('"1,000",a,1,,'))
    write("decimal_too_many_fraction_digits.csv", csv_text("1,a,1,,", "2,b,0.12345678901,,"))
    write("decimal_too_many_whole_digits.csv", csv_text("1,a,1234567890123456789012345678901,,"))
    write("decimal_comma.csv", csv_text('1,a,"12,50",,'))
    write("decimal_exponent.csv", csv_text("1,a,1e5,,"))
    write("decimal_nan.csv", csv_text("1,a,NaN,,"))
    write("date_impossible.csv", csv_text("1,a,1,2023-02-29,"))
    write("date_wrong_format.csv", csv_text("1,a,1,15/01/2024,"))
    write("date_with_time.csv", csv_text("1,a,1,2024-01-15 10:30:00,"))
    write("date_year_zero.csv", csv_text("1,a,1,0000-01-01,"))
    write("boolean_unknown_word.csv", csv_text("1,a,1,,yes"))
    write("required_value_missing.csv", csv_text("1,a,1,,", ",b,1,,"))
    # --- CSV of the headerless casilla ------------------------------------------------------------
    write("noheader_good.csv", "\n".join(GOOD_ROWS) + "\n")
    # --- ZIP packages (casilla corpus_csv: member datos.csv) ----------------------------------------
    member = good.encode()
    write("package_good.zip", zip_bytes([("sub/datos.csv", member)]))
    write("zip_member_parent_path.zip", zip_bytes([("../datos.csv", member)]))
    write("zip_member_absolute_path.zip", zip_bytes([("/tmp/datos.csv", member)]))
    write("zip_member_windows_drive.zip", zip_bytes([("C:\\Windows\\datos.csv", member)]))
    write("zip_nested.zip", zip_bytes([("inner.zip", zip_bytes([("datos.csv", member)]))]))
    write("zip_unknown_member.zip", zip_bytes([("datos.csv", member), ("otros.csv", b"x\n")]))
    # A member that declares 4 GB uncompressed from a few compressed bytes (offsets: local
    # header 22, central directory 24 hold the uncompressed size).
    write("zip_bomb_declared_size.zip", patch_headers(zip_bytes([("datos.csv", member)]), 22, 24, "<I", 0xFFFF0000))
    # A member whose CRC does not match its bytes (offsets 14 / 16 hold the CRC-32).
    write("zip_bad_crc.zip", patch_headers(zip_bytes([("datos.csv", member)]), 14, 16, "<I", 0x12345678))
    # A member flagged as encrypted (general purpose bit 0; offsets 6 / 8).
    write("zip_encrypted_member.zip", patch_headers(zip_bytes([("datos.csv", member)]), 6, 8, "<H", 0x1))
    write("zip_not_a_zip.zip", b"PK\x03\x04 this is not really a zip package")
    # --- Excel workbooks (casilla corpus_excel: sheet Datos) -----------------------------------
    header = HEADER.split(",")
    write("excel_good.xlsx", workbook("Datos", [header, [1, "Ana", 10.5, dt.datetime(2024, 1, 15), True],
                                                [2, "0042", "0.10", "2024-02-29", "no"]]))
    write("excel_wrong_sheet.xlsx", workbook("Hoja1", [header, [1, "Ana", 10.5, dt.datetime(2024, 1, 15), True]]))
    write("excel_bad_value.xlsx", workbook("Datos", [header, [1, "Ana", 10.5, None, True],
                                                     [2, "Bea", "diez", None, False]]))
    write("excel_not_a_workbook.xlsx", b"id,nombre\n1,this is a CSV named .xlsx\n")


if __name__ == "__main__":
    main()
