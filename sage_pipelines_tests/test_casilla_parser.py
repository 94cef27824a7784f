"""The SAGE YAML parser: real files parse, and every kind of mistake is one ConfigError naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from sage_pipelines.casilla.parser import load_sage_yaml, parse_sage_yaml
from sage_pipelines.errors import ConfigError

MINIMAL = """
sage_yaml:
  name: demo
catalogs:
  ventas:
    name: Ventas
    filename: ventas.csv
    file_format: {type: CSV, delimiter: ","}
    fields:
      - {name: id, type: entero}
      - {name: monto, type: decimal}
"""


def test_every_sample_yaml_parses(samples: Path) -> None:
    files = sorted(samples.glob("*.yaml"))
    assert len(files) >= 5
    for path in files:
        sage = load_sage_yaml(path)
        assert sage.catalogs, path
        for catalog in sage.catalogs.values():
            assert catalog.fields, (path, catalog.key)
            assert catalog.file_format.type in ("CSV", "EXCEL")


def test_production_package_keeps_every_field_in_order(samples: Path) -> None:
    sage = load_sage_yaml(samples / "clorox_canal_tradicional.yaml")
    assert len(sage.catalogs) == 7
    assert sum(len(c.fields) for c in sage.catalogs.values()) == 205
    clientes = sage.catalogs["clientes"]
    assert [f.name for f in clientes.fields[:3]] == ["CodigoProveedor", "CodigoDistribuidor", "CodigoCliente"]
    assert clientes.file_format.delimiter == "|" and clientes.file_format.header is False
    package = next(iter(sage.packages.values()))
    assert set(package.catalogs) == set(sage.catalogs)


def test_header_defaults_to_false_and_rules_are_kept_verbatim(samples: Path) -> None:
    sage = load_sage_yaml(samples / "maestro_productos_excel.yaml")
    catalog = sage.catalogs["maestro_productos_alicorp"]
    assert catalog.file_format.header is False
    assert catalog.fields[2].validation_rules[0].rule == "df['DescripcionProducto'].notnull()"
    sistema = load_sage_yaml(samples / "sistema_ventas_excel_csv_zip.yaml")
    rules = sistema.packages["paquete_ventas"].package_validation
    assert rules[0].rule == "df['ventas']['codigo_producto'].isin(df['productos']['codigo_producto'])"
    assert sistema.catalogs["productos"].catalog_validation[0].severity == "warning"


def test_encoding_and_path_keys_are_read(samples: Path) -> None:
    assert load_sage_yaml(samples / "clorox_generico_pipe_bom.yaml").catalogs["clientes"].file_format.encoding \
        == "utf-8-sig"
    assert load_sage_yaml(samples / "ventas_completo.yaml").catalogs["ventas"].path == "./data"


def test_minimal_yaml_parses_with_defaults() -> None:
    sage = parse_sage_yaml(MINIMAL)
    ventas = sage.catalogs["ventas"]
    assert ventas.file_format.header is False and ventas.file_format.encoding is None
    assert [(f.name, f.type, f.required, f.unique) for f in ventas.fields] == \
        [("id", "entero", False, False), ("monto", "decimal", False, False)]


@pytest.mark.parametrize(("old", "new", "message"), [
    ("type: decimal}", "type: numero}",
     "ventas.yaml: catalogs.ventas.fields[1].type: unknown type 'numero'"),
    ("{type: CSV, delimiter: \",\"}", "{type: CSV, delimiter: \",\", heder: true}",
     "ventas.yaml: catalogs.ventas.file_format.heder: unknown key"),
    ("{type: CSV, delimiter: \",\"}", "{type: CSV}",
     "ventas.yaml: catalogs.ventas.file_format.delimiter: required for CSV files"),
    ("{type: CSV, delimiter: \",\"}", "{type: CSV, delimiter: \",\", header: \"yes\"}",
     "ventas.yaml: catalogs.ventas.file_format.header: expected true or false, got 'yes'"),
    ("{type: CSV, delimiter: \",\"}", "{type: PARQUET, delimiter: \",\"}",
     "ventas.yaml: catalogs.ventas.file_format.type: unknown file type 'PARQUET'"),
    ("{type: CSV, delimiter: \",\"}", "{type: CSV, delimiter: \",\", encoding: klingon}",
     "ventas.yaml: catalogs.ventas.file_format.encoding: unknown encoding 'klingon'"),
    ("{name: monto, type: decimal}", "{name: ID, type: decimal}",
     "ventas.yaml: catalogs.ventas.fields[1].name: duplicate field name 'ID' (also fields[0])"),
    ("{name: monto, type: decimal}", "{type: decimal}",
     "ventas.yaml: catalogs.ventas.fields[1].name: required key is missing"),
    ("{name: monto, type: decimal}", "{name: monto, type: decimal, required: 1}",
     "ventas.yaml: catalogs.ventas.fields[1].required: expected true or false, got 1"),
    ("    filename: ventas.csv\n", "",
     "ventas.yaml: catalogs.ventas.filename: required key is missing"),
    ("  name: demo\n", "  name: demo\n  owner: me\n",
     "ventas.yaml: sage_yaml.owner: unknown key"),
])
def test_mistakes_name_the_key_path(old: str, new: str, message: str) -> None:
    assert old in MINIMAL
    with pytest.raises(ConfigError) as info:
        parse_sage_yaml(MINIMAL.replace(old, new), source="ventas.yaml")
    assert str(info.value).startswith(message)


def test_package_naming_an_unknown_catalog_is_refused() -> None:
    text = MINIMAL + "packages:\n  p:\n    name: P\n    file_format: {type: ZIP}\n    catalogs: [ventas, compras]\n"
    with pytest.raises(ConfigError, match=r"^x.yaml: packages.p.catalogs\[1\]: unknown catalog 'compras'"):
        parse_sage_yaml(text, source="x.yaml")


def test_rules_need_a_rule_and_a_known_severity() -> None:
    base = MINIMAL.replace("{name: id, type: entero}",
                           "{name: id, type: entero, validation_rules: [{name: r, rule: 'x > 0', severity: %s}]}")
    assert parse_sage_yaml(base % "WARNING").catalogs["ventas"].fields[0].validation_rules[0].severity == "warning"
    with pytest.raises(ConfigError, match=r"fields\[0\].validation_rules\[0\].severity: unknown severity 'fatal'"):
        parse_sage_yaml(base % "fatal")


def test_wrong_shapes_and_bad_yaml_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"^y: catalogs: expected a mapping"):
        parse_sage_yaml("sage_yaml: {name: a}\ncatalogs: [a, b]\n", source="y")
    with pytest.raises(ConfigError, match=r"^y: line \d+: not valid YAML"):
        parse_sage_yaml("sage_yaml: {name: a\ncatalogs:\n", source="y")
    with pytest.raises(ConfigError, match=r"^y: line 3: duplicate key 'sage_yaml'"):
        parse_sage_yaml("sage_yaml: {name: a}\ncatalogs: {}\nsage_yaml: {name: b}\n", source="y")
    with pytest.raises(ConfigError, match=r"^y: catalogs.ventas.fields: expected a list"):
        parse_sage_yaml(MINIMAL.split("    fields:")[0] + "    fields: 3\n", source="y")


def test_two_catalogs_with_one_filename_are_refused() -> None:
    text = MINIMAL + ("  otra:\n    name: Otra\n    filename: VENTAS.csv\n    file_format: {type: EXCEL}\n"
                      "    fields: [{name: a, type: texto}]\n")
    with pytest.raises(ConfigError, match=r"catalogs.otra.filename: 'VENTAS.csv' is also the filename of catalog 'ventas'"):
        parse_sage_yaml(text)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_sage_yaml(tmp_path / "nope.yaml")
