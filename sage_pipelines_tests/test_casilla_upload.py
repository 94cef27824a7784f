"""Uploads: single files, folders and ZIP packages map to catalogs; Excel members read exactly."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

from sage_pipelines.casilla.parser import load_sage_yaml, parse_sage_yaml
from sage_pipelines.casilla.readers import read_catalog_file, read_member, upload_members
from sage_pipelines.errors import ConfigError, DataError
from sage_pipelines.types import ColumnType, Kind

VENTAS_CSV = b"codigo_venta,codigo_cliente,codigo_producto,cantidad\nVTA-001,CLI-001,PROD-001,3\nVTA-002,CLI-002,PROD-002,5\n"
CLIENTES_CSV = b"codigo_cliente,limite_credito\nCLI-001,1500.50\nCLI-002,0099.10\n"


def write_xlsx(path: Path, rows: list[list], sheet: str = "Hoja1", blank_first_sheet: bool = False) -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    if blank_first_sheet:
        ws.title = "Notas"
        ws = book.create_sheet(sheet)
    else:
        ws.title = sheet
    for row in rows:
        ws.append(row)
    book.save(path)
    return path


def productos_xlsx(path: Path) -> Path:
    return write_xlsx(path, [["codigo_producto", "existencias"], ["PROD-001", 10], ["PROD-002", 20]])


@pytest.fixture
def ventas_completo(samples: Path):
    return load_sage_yaml(samples / "ventas_completo.yaml")


def make_zip(path: Path, members: dict[str, bytes | Path]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if isinstance(data, Path):
                zf.write(data, name)
            else:
                zf.writestr(name, data)
    return path


def test_zip_package_with_excel_and_csv_members(tmp_path: Path, ventas_completo) -> None:
    xlsx = productos_xlsx(tmp_path / "p.xlsx")
    package = make_zip(tmp_path / "upload.zip", {"data/Productos.XLSX": xlsx, "data/ventas.csv": VENTAS_CSV,
                                                  "clientes.csv": CLIENTES_CSV, "__MACOSX/._ventas.csv": b"x"})
    members = {m.catalog.key: m for m in upload_members(ventas_completo, package)}
    assert set(members) == {"productos", "clientes", "ventas"}
    assert members["ventas"].display == "upload.zip!data/ventas.csv"
    assert members["ventas"].size == len(VENTAS_CSV)
    productos = read_member(members["productos"]).read_all()
    assert productos.to_pylist() == [{"codigo_producto": "PROD-001", "existencias": 10},
                                     {"codigo_producto": "PROD-002", "existencias": 20}]
    clientes = read_member(members["clientes"]).read_all()
    assert clientes.column("limite_credito").to_pylist() == [Decimal("1500.50"), Decimal("99.10")]
    assert read_member(members["ventas"]).read_all().column("cantidad").to_pylist() == [3, 5]


def test_folder_upload_maps_each_file(tmp_path: Path, ventas_completo) -> None:
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "ventas.csv").write_bytes(VENTAS_CSV)
    (folder / "CLIENTES.csv").write_bytes(CLIENTES_CSV)
    (folder / ".DS_Store").write_bytes(b"junk")
    members = upload_members(ventas_completo, folder)
    assert sorted(m.catalog.key for m in members) == ["clientes", "ventas"]
    table = read_catalog_file(ventas_completo, folder, "clientes").read_all()
    assert table.column("codigo_cliente").to_pylist() == ["CLI-001", "CLI-002"]


def test_unknown_file_in_a_package_is_a_config_error(tmp_path: Path, ventas_completo) -> None:
    package = make_zip(tmp_path / "upload.zip", {"ventas.csv": VENTAS_CSV, "facturas.csv": b"a\n"})
    with pytest.raises(ConfigError, match=r"upload.zip!facturas.csv: no catalog .* has this filename"):
        upload_members(ventas_completo, package)


def test_unknown_file_in_a_folder_is_a_config_error(tmp_path: Path, ventas_completo) -> None:
    (tmp_path / "otros.csv").write_bytes(b"a\n")
    with pytest.raises(ConfigError, match=r"otros.csv: no catalog"):
        upload_members(ventas_completo, tmp_path)


def test_two_files_for_one_catalog_are_refused(tmp_path: Path, ventas_completo) -> None:
    package = make_zip(tmp_path / "upload.zip", {"a/ventas.csv": VENTAS_CSV, "b/VENTAS.csv": VENTAS_CSV})
    with pytest.raises(ConfigError, match=r"catalog 'ventas' already comes from"):
        upload_members(ventas_completo, package)


def test_single_file_of_a_one_catalog_casilla_maps_whatever_its_name(tmp_path: Path) -> None:
    sage = parse_sage_yaml("""
sage_yaml: {name: t}
catalogs:
  data: {name: D, filename: data.csv, file_format: {type: CSV, delimiter: ";"}, fields: [{name: a, type: texto}]}
""")
    path = tmp_path / "subida_2024.txt"
    path.write_bytes(b"0001\n")
    [member] = upload_members(sage, path)
    assert member.catalog.key == "data"
    assert read_member(member).read_all().column("a").to_pylist() == ["0001"]


def test_single_unknown_file_of_a_multi_catalog_casilla_is_refused(tmp_path: Path, ventas_completo) -> None:
    path = tmp_path / "other.csv"
    path.write_bytes(b"x\n")
    with pytest.raises(ConfigError, match="no catalog"):
        upload_members(ventas_completo, path)


def test_missing_upload_is_a_config_error(tmp_path: Path, ventas_completo) -> None:
    with pytest.raises(ConfigError, match="upload not found"):
        upload_members(ventas_completo, tmp_path / "nope.zip")


EXCEL_YAML = """
sage_yaml: {name: x}
catalogs:
  m:
    name: M
    filename: m.xlsx
    file_format: {type: EXCEL%s}
    fields:
      - {name: codigo, type: texto}
      - {name: cantidad, type: entero}
      - {name: precio, type: decimal}
      - {name: fecha, type: fecha}
      - {name: activo, type: booleano}
"""


def test_excel_typed_cells_convert_exactly(tmp_path: Path) -> None:
    sage = parse_sage_yaml(EXCEL_YAML % "")
    path = write_xlsx(tmp_path / "m.xlsx", [
        ["000123", 5, 0.1, dt.datetime(2024, 3, 1), True],
        ["A-9", 7.0, 12345.678, "2024-03-02", "no"],
        [None, None, None, None, None],
        [42, "8", "19.99", dt.date(2024, 3, 3), None],
    ])
    table = read_catalog_file(sage, path, "m").read_all()
    assert table.to_pylist() == [
        {"codigo": "000123", "cantidad": 5, "precio": Decimal("0.1"), "fecha": dt.date(2024, 3, 1), "activo": True},
        {"codigo": "A-9", "cantidad": 7, "precio": Decimal("12345.678"), "fecha": dt.date(2024, 3, 2),
         "activo": False},
        {"codigo": "42", "cantidad": 8, "precio": Decimal("19.99"), "fecha": dt.date(2024, 3, 3), "activo": None},
    ]


def test_excel_named_sheet_and_header_by_name(tmp_path: Path) -> None:
    sage = parse_sage_yaml(EXCEL_YAML % ", header: true, sheet: Datos")
    path = write_xlsx(tmp_path / "m.xlsx", [["Activo", "FECHA", "codigo", "cantidad", "precio"],
                                            ["si", "2024-01-01", "X", 1, 2]], sheet="Datos", blank_first_sheet=True)
    assert read_catalog_file(sage, path, "m").read_all().to_pylist() == [
        {"codigo": "X", "cantidad": 1, "precio": Decimal(2), "fecha": dt.date(2024, 1, 1), "activo": True}]


def test_excel_bad_value_names_the_excel_row(tmp_path: Path) -> None:
    sage = parse_sage_yaml(EXCEL_YAML % ", header: true")
    path = write_xlsx(tmp_path / "m.xlsx", [["codigo", "cantidad", "precio", "fecha", "activo"],
                                            ["a", 1, 1, "2024-01-01", "si"],
                                            [],
                                            ["b", 1.5, 1, "2024-01-01", "si"]])
    with pytest.raises(DataError) as info:
        read_catalog_file(sage, path, "m").read_all()
    err = info.value
    assert (err.file, err.line, err.column, err.value) == (str(path), 4, "cantidad", "1.5")


def test_excel_header_mismatch_and_extra_cells_are_refused(tmp_path: Path) -> None:
    sage = parse_sage_yaml(EXCEL_YAML % ", header: true")
    path = write_xlsx(tmp_path / "m.xlsx", [["codigo", "cantidad", "precio", "fecha"], ["a", 1, 1, "2024-01-01"]])
    with pytest.raises(DataError, match="header lacks field 'activo'"):
        read_catalog_file(sage, path, "m").read_all()
    sage = parse_sage_yaml(EXCEL_YAML % "")
    path = write_xlsx(tmp_path / "n.xlsx", [["a", 1, 1, "2024-01-01", "si", "extra"]])
    with pytest.raises(DataError) as info:
        read_catalog_file(sage, path, "m").read_all()
    assert info.value.line == 1 and "expected 5 columns" in info.value.reason


def test_excel_missing_sheet_is_named(tmp_path: Path) -> None:
    sage = parse_sage_yaml(EXCEL_YAML % ", sheet: Ventas")
    path = write_xlsx(tmp_path / "m.xlsx", [["a", 1, 1, "2024-01-01", "si"]])
    with pytest.raises(DataError, match="no such sheet"):
        read_catalog_file(sage, path, "m").read_all()


def test_excel_timestamp_override_and_batches(tmp_path: Path) -> None:
    sage = parse_sage_yaml(EXCEL_YAML % "")
    rows = [[f"{i:05d}", i, i / 4, dt.datetime(2024, 1, 1, 0, 0, i % 60), i % 2 == 0] for i in range(250)]
    path = write_xlsx(tmp_path / "m.xlsx", rows)
    catalog = sage.catalogs["m"]
    columns = catalog.columns({"fecha": ColumnType(Kind.TIMESTAMP)})
    batches = list(read_member(upload_members(sage, path)[0], columns, batch_rows=100))
    assert [b.num_rows for b in batches] == [100, 100, 50]
    table = pa.Table.from_batches(batches)
    assert table.column("fecha")[59].as_py() == dt.datetime(2024, 1, 1, 0, 0, 59)
    assert table.column("precio")[3].as_py() == Decimal("0.75")
    assert table.column("codigo")[7].as_py() == "00007"


def test_zip_member_streams_are_closed(tmp_path: Path, ventas_completo) -> None:
    package = make_zip(tmp_path / "upload.zip", {"ventas.csv": VENTAS_CSV})
    [member] = upload_members(ventas_completo, package)
    with member.open() as stream:
        assert stream.read() == VENTAS_CSV
    assert stream.closed


def test_excel_with_wrong_stored_dimensions_reads_every_row(tmp_path: Path) -> None:
    sage = parse_sage_yaml(EXCEL_YAML % "")
    good = write_xlsx(tmp_path / "good.xlsx", [["a", 1, 1, "2024-01-01", "si"], ["b", 2, 2, "2024-01-02", "no"],
                                               ["c", 3, 3, "2024-01-03", "si"]])
    bad = tmp_path / "m.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("sheet1.xml"):
                data = re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1"/>', data)
                assert b'<dimension ref="A1"/>' in data
            dst.writestr(info, data)
    table = read_catalog_file(sage, bad, "m").read_all()
    assert table.column("codigo").to_pylist() == ["a", "b", "c"]


def test_excel_sheet_by_index(tmp_path: Path) -> None:
    sage = parse_sage_yaml(EXCEL_YAML % ", sheet: 1")
    path = write_xlsx(tmp_path / "m.xlsx", [["a", 1, 1, "2024-01-01", "si"]], sheet="Datos",
                      blank_first_sheet=True)
    assert read_catalog_file(sage, path, "m").read_all().column("codigo").to_pylist() == ["a"]


def test_sample_excel_package_reads_headerless_by_field_order(tmp_path: Path, samples: Path) -> None:
    sage = load_sage_yaml(samples / "maestro_productos_excel.yaml")
    catalog = sage.catalogs["maestro_productos_alicorp"]
    values = {"entero": 7, "texto": "0042", "decimal": 0.25}
    row = [values[f.type] for f in catalog.fields]
    xlsx = write_xlsx(tmp_path / "x.xlsx", [row, row])
    package = make_zip(tmp_path / "paquete.zip", {"Maestro productos Alicorp.xlsx": xlsx})
    [member] = upload_members(sage, package)
    assert member.display == "paquete.zip!Maestro productos Alicorp.xlsx"
    table = read_member(member).read_all()
    assert table.num_rows == 2
    assert table.column("DescripcionProducto").to_pylist() == ["0042", "0042"]
    assert table.column("PesoUnidadBase").to_pylist() == [Decimal("0.25")] * 2
    assert table.column("COD. REEMPLAZO").to_pylist() == [7, 7]


def test_a_csv_named_like_an_excel_catalog_is_a_clear_data_error(tmp_path: Path) -> None:
    sage = parse_sage_yaml(EXCEL_YAML % "")
    path = tmp_path / "m.xlsx"
    path.write_bytes(b"a,1\n")
    with pytest.raises(DataError, match="not a readable Excel workbook"):
        read_catalog_file(sage, path, "m").read_all()
