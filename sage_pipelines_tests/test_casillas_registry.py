"""The casilla registry: a bad SAGE YAML registers nothing; re-adding a name updates it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from sage_pipelines.cli import main
from sage_pipelines.services.home import init_home
from sage_pipelines.errors import ConfigError
from sage_pipelines.services.materializations import apply_materialization
from sage_pipelines.services.casillas import list_casillas, load_casilla, register_casilla
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.models import AuditLog, Casilla


@pytest.fixture
def store(sage_home: Path):
    init_home()
    with session_scope() as session:
        yield session


def test_a_registered_casilla_loads_with_its_parsed_yaml(store, samples):
    register_casilla(store, "clorox", (samples / "clorox_canal_tradicional.yaml").read_text(), "clorox.yaml")
    row, sage = load_casilla(store, "clorox")
    assert row.nombre == "clorox"
    assert list(sage.catalogs) == ["clientes", "productos", "stock", "vendedores", "ventas", "pedidos", "rutas"]


def test_a_bad_yaml_registers_nothing(store):
    with pytest.raises(ConfigError, match="bad.yaml"):
        register_casilla(store, "mala", "sage_yaml: {name: x}\ncatalogs: {}\n", "bad.yaml")
    assert store.scalars(select(Casilla)).all() == []


def test_re_adding_a_name_updates_its_yaml(store, samples):
    register_casilla(store, "ventas", (samples / "ventas_completo.yaml").read_text(), "a.yaml")
    register_casilla(store, "ventas", (samples / "sistema_ventas_excel_csv_zip.yaml").read_text(), "b.yaml")
    assert [c.nombre for c in list_casillas(store)] == ["ventas"]
    _, sage = load_casilla(store, "ventas")
    assert [f.name for f in sage.catalogs["ventas"].fields][:2] == ["codigo_venta", "fecha"]
    actions = store.scalars(select(AuditLog.accion).where(AuditLog.objeto == "ventas").order_by(AuditLog.id)).all()
    assert actions == ["casilla.add", "casilla.update"]


def test_a_new_yaml_that_breaks_a_materialization_is_refused(store, samples):
    from sage_pipelines_tests.test_materialization import add_connection

    register_casilla(store, "ventas", (samples / "sistema_ventas_excel_csv_zip.yaml").read_text(), "v1.yaml")
    add_connection(store, "analytics")
    apply_materialization(store, "materialization:\n  name: m\n  casilla: ventas\n  destinations:\n"
                                 "    w: {connection: analytics}\n  tables:\n"
                                 "    ventas: {strategy: delete_insert, delete_by: [fecha]}\n", "m.yaml")
    with pytest.raises(ConfigError, match=r"casilla 'ventas': the new YAML breaks materialization m: "
                                          r"materialization.tables.ventas.delete_by\[0\]: unknown column 'fecha'"):
        register_casilla(store, "ventas", (samples / "ventas_completo.yaml").read_text(), "v2.yaml")
    _, sage = load_casilla(store, "ventas")
    assert "fecha" in [f.name for f in sage.catalogs["ventas"].fields]


@pytest.mark.parametrize("bad", ["../x", "con espacio", "", "a-b"])
def test_a_casilla_name_must_be_safe_for_paths_and_asset_keys(store, samples, bad):
    with pytest.raises(ConfigError, match="invalid name"):
        register_casilla(store, bad, (samples / "ventas_completo.yaml").read_text(), "v.yaml")


def test_an_unknown_casilla_lists_the_registered_ones(store, samples):
    register_casilla(store, "ventas", (samples / "ventas_completo.yaml").read_text(), "v.yaml")
    with pytest.raises(ConfigError, match=r"unknown casilla 'nada' \(registered: ventas;"):
        load_casilla(store, "nada")


def test_cli_add_and_list(sage_home, samples, capsys):
    init_home()
    assert main(["casillas", "add", "maestro", "--yaml", str(samples / "maestro_productos_excel.yaml")]) == 0
    assert capsys.readouterr().out == "casilla maestro registered: maestro_productos_alicorp\n"
    assert main(["casillas", "add", "x", "--yaml", str(samples / "nope.yaml")]) == 1
    assert "nope.yaml: file not found" in capsys.readouterr().err
    assert main(["casillas", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("maestro ")
