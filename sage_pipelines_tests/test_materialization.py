"""The materialization YAML: what `apply` accepts, what it refuses (and how it says so), and
that `export` prints back exactly what `apply` takes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.services.home import init_home
from sage_pipelines.errors import ConfigError
from sage_pipelines.services.materializations import (apply_materialization, export_materialization,
                                                      get_materialization)
from sage_pipelines.materialization.persist import spec_from_row
from sage_pipelines.services.casillas import register_casilla
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.models import (AuditLog, DatabaseConnection, DbSecret, Lake, Materialization,
                                         MaterializationHistory)

# The casilla is the real SAGE YAML `sistema_ventas_excel_csv_zip.yaml`: catalogs productos,
# clientes and ventas (codigo_venta, fecha, codigo_cliente, codigo_producto, cantidad,
# precio_unitario, total).
BASE: dict[str, Any] = {"materialization": {
    "name": "ventas_semanales",
    "casilla": "ventas",
    "description": "Weekly sales",
    "server": "auto",
    "schedule": "0 6 * * 1",
    "destinations": {"warehouse": {"connection": "analytics"},
                     "lake": {"lake": "local_lake", "format": "iceberg"}},
    "tables": {
        "ventas": {"table": "fact_ventas", "primary_key": ["codigo_venta"], "strategy": "upsert",
                   "partitioning": {"columns": ["fecha"], "transform": "month"},
                   "schema_change": "evolve", "columns": {"precio_unitario": {"type": "decimal(12,2)"}},
                   "destinations": ["warehouse", "lake"]},
        "clientes": {"strategy": "truncate_insert", "destinations": ["warehouse"]},
    },
}}


def add_connection(session: Session, name: str, tipo: str = "duckdb", esquema: str | None = None) -> None:
    secret = DbSecret(nombre=f"{name}_secret", tipo=tipo, basedatos=name)
    session.add(secret)
    session.flush()
    session.add(DatabaseConnection(nombre=name, secret_id=secret.id, esquema=esquema))
    session.flush()


@pytest.fixture
def store(sage_home: Path, samples: Path) -> Iterator[Session]:
    """A migrated store with casilla `ventas`, connections `analytics` (DuckDB, no schema) and
    `pg` (PostgreSQL, schema `reporting`), and lake `local_lake`."""
    init_home()
    with session_scope() as session:
        register_casilla(session, "ventas", (samples / "sistema_ventas_excel_csv_zip.yaml").read_text(),
                         "sistema_ventas_excel_csv_zip.yaml")
        add_connection(session, "analytics")
        add_connection(session, "pg", "postgresql", "reporting")
        session.add(Lake(nombre="local_lake", warehouse=f"file://{sage_home / 'lake'}"))
        session.flush()
        yield session


def spec(change: Callable[[dict], Any] | None = None) -> str:
    doc = copy.deepcopy(BASE)
    if change is not None:
        change(doc["materialization"])
    return yaml.safe_dump(doc, sort_keys=False)


def ventas(m: dict) -> dict:
    return m["tables"]["ventas"]


BAD_SPECS: list[tuple[str, Callable[[dict], Any], str]] = [
    ("unknown casilla", lambda m: m.update(casilla="nope"),
     "materialization.casilla: unknown casilla 'nope'"),
    ("unknown catalog key", lambda m: m["tables"].update(facturas={"strategy": "append"}),
     "materialization.tables.facturas: unknown catalog 'facturas' in casilla 'ventas'"),
    ("unknown strategy", lambda m: ventas(m).update(strategy="merge"),
     "materialization.tables.ventas.strategy: unknown strategy 'merge'"),
    ("upsert without a primary key", lambda m: ventas(m).pop("primary_key"),
     "materialization.tables.ventas.primary_key: strategy upsert needs a primary_key"),
    ("delete_insert without delete_by or key",
     lambda m: (ventas(m).pop("primary_key"), ventas(m).update(strategy="delete_insert")),
     "materialization.tables.ventas.delete_by: strategy delete_insert needs delete_by, the columns whose values "
     "in an upload pick the rows it replaces (to delete by the primary key, as before: "
     "delete_by: [<primary key>])"),
    ("delete_by with another strategy", lambda m: ventas(m).update(delete_by=["fecha"]),
     "materialization.tables.ventas.delete_by: only strategy delete_insert uses delete_by, not upsert"),
    ("unknown primary key column", lambda m: ventas(m).update(primary_key=["id_venta"]),
     "materialization.tables.ventas.primary_key[0]: unknown column 'id_venta' in catalog 'ventas'"),
    ("unknown delete_by column", lambda m: ventas(m).update(strategy="delete_insert", delete_by=["semana"]),
     "materialization.tables.ventas.delete_by[0]: unknown column 'semana'"),
    ("unknown partition column", lambda m: ventas(m)["partitioning"].update(columns=["mes"]),
     "materialization.tables.ventas.partitioning.columns[0]: unknown column 'mes'"),
    ("unknown column override", lambda m: ventas(m)["columns"].update(precio={"type": "decimal(12,2)"}),
     "materialization.tables.ventas.columns.precio: unknown column 'precio'"),
    ("unknown destination alias in a table", lambda m: ventas(m).update(destinations=["warehouse", "dwh"]),
     "materialization.tables.ventas.destinations[1]: unknown destination 'dwh' (declared: warehouse, lake)"),
    ("unknown connection", lambda m: m["destinations"].update(warehouse={"connection": "nope"}),
     "materialization.destinations.warehouse.connection: unknown connection 'nope' (registered: analytics, pg"),
    ("unknown lake", lambda m: m["destinations"]["lake"].update(lake="s3_lake"),
     "materialization.destinations.lake.lake: unknown lake 's3_lake' (registered: "),
    ("bad lake format", lambda m: m["destinations"]["lake"].update(format="parquet"),
     "materialization.destinations.lake.format: unknown lake format 'parquet' (expected one of iceberg, delta, hudi)"),
    ("format on a database destination", lambda m: m["destinations"]["warehouse"].update(format="delta"),
     "materialization.destinations.warehouse.format: only a lake destination takes a format"),
    ("connection and lake together", lambda m: m["destinations"]["lake"].update(connection="analytics"),
     "materialization.destinations.lake: give exactly one of `connection` (a database) or `lake`"),
    ("bad partition transform", lambda m: ventas(m)["partitioning"].update(transform="week"),
     "materialization.tables.ventas.partitioning.transform: bad partition transform 'week'"),
    ("bucket without a size", lambda m: ventas(m)["partitioning"].update(transform="bucket"),
     "materialization.tables.ventas.partitioning.transform: bad partition transform 'bucket'"),
    ("bucket of zero", lambda m: ventas(m)["partitioning"].update(transform="bucket[0]"),
     "materialization.tables.ventas.partitioning.transform: bad partition transform 'bucket[0]'"),
    ("time transform on a text column",
     lambda m: ventas(m)["partitioning"].update(columns=["codigo_venta"], transform="day"),
     "materialization.tables.ventas.partitioning.transform: day needs a date or timestamp column, "
     "but 'codigo_venta' is text"),
    ("bad column type", lambda m: ventas(m)["columns"].update(precio_unitario={"type": "money"}),
     "materialization.tables.ventas.columns.precio_unitario.type: unknown type 'money'"),
    ("bad decimal precision", lambda m: ventas(m)["columns"].update(precio_unitario={"type": "decimal(40,2)"}),
     "materialization.tables.ventas.columns.precio_unitario.type: 'decimal(40,2)' needs 1 <= precision <= 38"),
    ("bad cron", lambda m: m.update(schedule="61 * * * *"),
     "materialization.schedule: bad cron '61 * * * *'"),
    ("unknown top-level key", lambda m: m.update(owner="ana"),
     "materialization.owner: unknown key 'owner'"),
    ("unknown table key", lambda m: ventas(m).update(primary_keys=["codigo_venta"]),
     "materialization.tables.ventas.primary_keys: unknown key 'primary_keys'"),
    ("unknown destination key", lambda m: m["destinations"]["warehouse"].update(schema="x"),
     "materialization.destinations.warehouse.schema: unknown key 'schema'"),
    ("unknown partitioning key", lambda m: ventas(m)["partitioning"].update(buckets=4),
     "materialization.tables.ventas.partitioning.buckets: unknown key 'buckets'"),
    ("unknown column override key", lambda m: ventas(m)["columns"]["precio_unitario"].update(nullable=False),
     "materialization.tables.ventas.columns.precio_unitario.nullable: unknown key 'nullable'"),
    ("unknown schema_change", lambda m: ventas(m).update(schema_change="ignore"),
     "materialization.tables.ventas.schema_change: unknown schema_change 'ignore' (expected one of evolve, freeze)"),
    ("two tables into one destination table", lambda m: m["tables"]["clientes"].update(table="fact_ventas"),
     "materialization.tables.clientes.table: 'fact_ventas' in destination 'warehouse' is the same table as "
     "ventas -> warehouse"),
    ("two aliases of one connection into one table",
     lambda m: (m["destinations"].update(copia={"connection": "analytics"}),
                ventas(m).update(destinations=["warehouse", "copia"])),
     "materialization.tables.ventas.table: 'fact_ventas' in destination 'copia' is the same table as "
     "ventas -> warehouse"),
    ("bad table name", lambda m: ventas(m).update(table="../etc/fact"),
     "materialization.tables.ventas.table: bad table '../etc/fact'"),
    ("table with two dots", lambda m: ventas(m).update(table="a.b.c"),
     "materialization.tables.ventas.table: bad table 'a.b.c'"),
    ("unknown server", lambda m: m.update(server="gpu01"),
     "materialization.server: unknown server 'gpu01'"),
    ("name that is no identifier", lambda m: m.update(name="ventas semanales"),
     "materialization.name: invalid name 'ventas semanales'"),
    ("missing strategy", lambda m: m["tables"]["clientes"].pop("strategy"),
     "materialization.tables.clientes.strategy: missing"),
    ("no destinations", lambda m: m.update(destinations={}),
     "materialization.destinations: expected a non-empty mapping"),
    ("primary key as a mapping", lambda m: ventas(m).update(primary_key={"a": 1}),
     "materialization.tables.ventas.primary_key: expected a non-empty list of names"),
]


@pytest.mark.parametrize("change,fragment", [c[1:] for c in BAD_SPECS], ids=[c[0] for c in BAD_SPECS])
def test_an_invalid_spec_is_refused_naming_the_key_path_and_value(store, change, fragment):
    with pytest.raises(ConfigError) as exc:
        apply_materialization(store, spec(change), "ventas.yaml")
    assert f"ventas.yaml: {fragment}" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_an_invalid_spec_stores_nothing(store):
    with pytest.raises(ConfigError):
        apply_materialization(store, spec(lambda m: ventas(m).update(strategy="merge")), "ventas.yaml")
    assert store.scalars(select(Materialization)).all() == []
    assert store.scalars(select(AuditLog).where(AuditLog.accion == "materialization.apply")).all() == []


def test_a_file_that_is_not_yaml_is_refused_with_its_line(store):
    with pytest.raises(ConfigError, match=r"ventas.yaml, line 3: not valid YAML"):
        apply_materialization(store, "materialization:\n  name: x\n  tables: {a: [b}\n  casilla: y\n",
                              "ventas.yaml")


def test_a_valid_spec_is_stored_with_its_tables_and_destinations(store):
    row = apply_materialization(store, spec(), "ventas.yaml")
    assert (row.nombre, row.casilla.nombre, row.servidor, row.schedule) == (
        "ventas_semanales", "ventas", "auto", "0 6 * * 1")
    assert [(d.nombre, d.tipo, d.formato) for d in row.destinations] == [
        ("warehouse", "connection", None), ("lake", "lake", "iceberg")]
    ventas_row = row.tables[0]
    assert (ventas_row.catalogo, ventas_row.tabla, ventas_row.estrategia, ventas_row.primary_key) == (
        "ventas", "fact_ventas", "upsert", ["codigo_venta"])
    assert ventas_row.particionamiento == {"columns": ["fecha"], "transform": "month"}
    assert ventas_row.columnas == {"precio_unitario": {"type": "decimal(12,2)"}}


@pytest.mark.parametrize("word,strategy", [("reemplazar", "truncate_insert"), ("agregar", "append"),
                                           ("actualizar", "upsert"), ("UPSERT", "upsert")])
def test_sage_strategy_words_are_accepted_as_aliases(store, word, strategy):
    row = apply_materialization(store, spec(lambda m: ventas(m).update(strategy=word)), "ventas.yaml")
    assert row.tables[0].estrategia == strategy


def test_delete_insert_without_delete_by_is_refused_naming_the_primary_key_to_write(store):
    with pytest.raises(ConfigError) as error:
        apply_materialization(store, spec(lambda m: ventas(m).update(strategy="delete_insert")), "v.yaml")
    assert str(error.value) == (
        "v.yaml: materialization.tables.ventas.delete_by: strategy delete_insert needs delete_by, the columns "
        "whose values in an upload pick the rows it replaces (to delete by the primary key, as before: "
        "delete_by: [codigo_venta])")
    assert store.scalars(select(Materialization)).all() == []


def test_a_delete_insert_stored_without_delete_by_keeps_deleting_by_its_key_and_exports_it(store):
    """Applied before delete_by was required: it runs and exports as `delete_by: [<primary key>]`."""
    row = apply_materialization(store, spec(lambda m: ventas(m).update(strategy="delete_insert",
                                                                         delete_by=["codigo_venta"])), "v.yaml")
    row.tables[0].delete_by = []  # what such a row holds
    store.flush()
    assert spec_from_row(row).tables["ventas"].delete_by == ("codigo_venta",)
    exported = export_materialization(store, row.nombre)
    assert "delete_by: [codigo_venta]" in exported
    assert apply_materialization(store, exported, "exported.yaml").tables[0].delete_by == ["codigo_venta"]


def test_bucket_and_truncate_transforms_are_accepted(store):
    row = apply_materialization(store, spec(lambda m: ventas(m)["partitioning"].update(
        columns=["codigo_cliente"], transform="Bucket[16]")), "v.yaml")
    assert row.tables[0].particionamiento == {"columns": ["codigo_cliente"], "transform": "bucket[16]"}


def test_export_spells_out_every_default(store):
    minimal = ("materialization:\n  name: m\n  casilla: ventas\n"
               "  destinations:\n    warehouse: {connection: analytics}\n    lake: {lake: local_lake}\n"
               "  tables:\n    clientes: {strategy: agregar}\n")
    apply_materialization(store, minimal, "m.yaml")
    assert export_materialization(store, "m") == (
        "materialization:\n"
        "  name: m\n"
        "  casilla: ventas\n"
        "  server: auto\n"
        "  destinations:\n"
        "    warehouse: {connection: analytics}\n"
        "    lake: {lake: local_lake, format: iceberg}\n"
        "  tables:\n"
        "    clientes:\n"
        "      table: clientes\n"
        "      strategy: append\n"
        "      schema_change: evolve\n"
        "      destinations: [warehouse, lake]\n")


def test_apply_of_export_is_a_fixed_point(store):
    apply_materialization(store, spec(lambda m: ventas(m).update(strategy="actualizar")), "ventas.yaml")
    exported = export_materialization(store, "ventas_semanales")
    assert yaml.safe_load(exported)["materialization"]["tables"]["ventas"]["strategy"] == "upsert"
    apply_materialization(store, exported, "exported.yaml")
    assert export_materialization(store, "ventas_semanales") == exported


def test_reapplying_replaces_the_previous_version_keeping_table_ids(store):
    first = apply_materialization(store, spec(), "v1.yaml")
    ventas_id, clientes_id = first.tables[0].id, first.tables[1].id
    store.add(MaterializationHistory(materialization_id=first.id, tabla_id=clientes_id, casilla="ventas",
                                     tabla="clientes", destino="warehouse", upload_id="u1", estado="succeeded",
                                     estrategia="truncate_insert"))
    store.flush()
    second = apply_materialization(store, spec(lambda m: (m["tables"].pop("clientes"),
                                                          ventas(m).update(strategy="append"))), "v2.yaml")
    assert second.id == first.id
    assert [(t.id, t.catalogo, t.estrategia) for t in second.tables] == [(ventas_id, "ventas", "append")]
    history = store.scalars(select(MaterializationHistory)).one()
    assert (history.tabla_id, history.tabla) == (None, "clientes")


def test_an_asset_owned_by_another_materialization_is_refused(store):
    apply_materialization(store, spec(), "ventas.yaml")
    with pytest.raises(ConfigError, match=r"otra.yaml: materialization.tables.ventas.destinations: asset "
                                          r"warehouse/ventas/fact_ventas already belongs to materialization "
                                          r"'ventas_semanales'"):
        apply_materialization(store, spec(lambda m: (m.update(name="otra"), m["tables"].pop("clientes"))),
                              "otra.yaml")


def test_the_same_catalog_under_another_alias_is_another_asset(store):
    apply_materialization(store, spec(), "ventas.yaml")
    other = apply_materialization(store, spec(lambda m: (
        m.update(name="otra", destinations={"pg": {"connection": "pg"}}), m["tables"].pop("clientes"),
        ventas(m).update(destinations=["pg"]))), "otra.yaml")
    assert [t.destinos for t in other.tables] == [["pg"]]


def test_apply_writes_an_audit_row(store):
    apply_materialization(store, spec(), "ventas.yaml")
    row = store.scalars(select(AuditLog).where(AuditLog.accion == "materialization.apply")).one()
    assert row.objeto == "materialization:ventas_semanales"
    assert row.antes is None  # created
    assert [k for k in row.despues if k.startswith("tables.")] == ["tables.ventas", "tables.clientes"]


def test_export_of_an_unknown_materialization_names_it(store):
    with pytest.raises(ConfigError, match="unknown materialization 'nada'"):
        export_materialization(store, "nada")


def test_get_materialization_finds_an_applied_one(store):
    apply_materialization(store, spec(), "ventas.yaml")
    assert get_materialization(store, "ventas_semanales").descripcion == "Weekly sales"


def test_cli_apply_export_and_list(store, tmp_path, capsys):
    from sage_pipelines.cli import main

    store.commit()
    path = tmp_path / "ventas.yaml"
    path.write_text(spec(), encoding="utf-8")
    assert main(["materializations", "apply", str(path)]) == 0
    assert capsys.readouterr().out == ("materialization ventas_semanales applied: 2 tables, "
                                       "destinations warehouse, lake\n")
    assert main(["materializations", "export", "ventas_semanales"]) == 0
    exported = capsys.readouterr().out
    path.write_text(exported, encoding="utf-8")
    assert main(["materializations", "apply", str(path)]) == 0
    capsys.readouterr()
    assert main(["materializations", "export", "ventas_semanales"]) == 0
    assert capsys.readouterr().out == exported
    assert main(["materializations", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:3] == ["ventas_semanales", "ventas", "ventas,"]
    path.write_text(spec(lambda m: ventas(m).update(strategy="merge")), encoding="utf-8")
    assert main(["materializations", "apply", str(path)]) == 1
    assert capsys.readouterr().err == (f"sage: error: {path}: materialization.tables.ventas.strategy: unknown "
                                       "strategy 'merge' (expected one of upsert, delete_insert, append, "
                                       "truncate_insert, reemplazar, agregar, actualizar)\n")


def test_catalogs_that_make_the_same_dagster_asset_key_are_refused(sage_home: Path) -> None:
    init_home()
    fields = "    file_format: {type: CSV, delimiter: ',', header: true}\n    fields: [{name: a, type: texto}]\n"
    casilla = ("sage_yaml: {name: dos}\ncatalogs:\n"
               f"  ventas-2024:\n    name: a\n    filename: a.csv\n{fields}"
               f"  ventas_2024:\n    name: b\n    filename: b.csv\n{fields}")
    spec = {"materialization": {"name": "dos", "casilla": "dos", "destinations": {"warehouse": {"connection": "warehouse"}},
                                "tables": {"ventas-2024": {"table": "a", "strategy": "append"},
                                           "ventas_2024": {"table": "b", "strategy": "append"}}}}
    with session_scope() as session:
        register_casilla(session, "dos", casilla, "dos.yaml")
    with session_scope() as session, pytest.raises(ConfigError, match="same Dagster asset key"):
        apply_materialization(session, yaml.safe_dump(spec), "dos.yaml")
