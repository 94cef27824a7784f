"""Plans: the resolved form of stored materializations that the Dagster asset factory consumes."""

from __future__ import annotations

from sage_pipelines.destinations.base import Partitioning, SchemaChange, Strategy
from sage_pipelines.services.materializations import apply_materialization
from sage_pipelines.materialization.plan import DestinationRef, load_plans
from sage_pipelines.types import ColumnType, Kind
from sage_pipelines_tests.test_materialization import spec, store, ventas  # noqa: F401  (store is a fixture)


def plan_tables(session):
    (plan,) = load_plans(session)
    return {(t.catalog_key, t.destination.alias): t for t in plan.tables}


def test_a_plan_has_one_table_plan_per_table_and_destination(store):
    row = apply_materialization(store, spec(), "ventas.yaml")
    (plan,) = load_plans(store)
    assert (plan.id, plan.name, plan.casilla, plan.server, plan.schedule, plan.description) == (
        row.id, "ventas_semanales", "ventas", "auto", "0 6 * * 1", "Weekly sales")
    assert set(plan.sage.catalogs) == {"productos", "clientes", "ventas"}
    assert [(t.catalog_key, t.destination.alias) for t in plan.tables] == [
        ("ventas", "warehouse"), ("ventas", "lake"), ("clientes", "warehouse")]
    assert {t.table_id for t in plan.tables if t.catalog_key == "ventas"} == {row.tables[0].id}


def test_destination_kind_comes_from_the_connection_secret_or_the_lake_format(store):
    apply_materialization(store, spec(lambda m: m["destinations"].update(
        warehouse={"connection": "pg"}, lake={"lake": "local_lake", "format": "delta"})), "v.yaml")
    tables = plan_tables(store)
    warehouse, lake = tables["ventas", "warehouse"].destination, tables["ventas", "lake"].destination
    assert (warehouse.kind, warehouse.connection, warehouse.lake, warehouse.format) == ("postgresql", "pg", None, None)
    assert (lake.kind, lake.connection, lake.lake, lake.format) == ("delta", None, "local_lake", "delta")
    assert isinstance(lake, DestinationRef) and lake.id != warehouse.id


def test_table_spec_carries_strategy_keys_partitioning_and_type_overrides(store):
    apply_materialization(store, spec(), "ventas.yaml")
    table = plan_tables(store)["ventas", "warehouse"].spec
    assert (table.name, table.strategy, table.primary_key, table.schema_change) == (
        "fact_ventas", Strategy.UPSERT, ("codigo_venta",), SchemaChange.EVOLVE)
    assert table.partitioning == Partitioning(("fecha",), "month")
    assert [c.name for c in table.columns] == ["codigo_venta", "fecha", "codigo_cliente", "codigo_producto",
                                              "cantidad", "precio_unitario", "total"]
    types = {c.name: c.type for c in table.columns}
    assert types["precio_unitario"] == ColumnType(Kind.DECIMAL, 12, 2)
    assert types["fecha"] == ColumnType(Kind.DATE)
    assert types["total"] == ColumnType(Kind.DECIMAL, 38, 10)


def test_schema_comes_from_schema_dot_name_first(store):
    apply_materialization(store, spec(lambda m: (m["destinations"].update(warehouse={"connection": "pg"}),
                                                 ventas(m).update(table="ventas_dw.fact_ventas"))), "v.yaml")
    tables = plan_tables(store)
    assert tables["ventas", "warehouse"].spec.qualified_name == "ventas_dw.fact_ventas"
    assert tables["ventas", "lake"].spec.qualified_name == "ventas_dw.fact_ventas"


def test_schema_defaults_to_the_connection_schema(store):
    apply_materialization(store, spec(lambda m: m["destinations"].update(warehouse={"connection": "pg"})), "v.yaml")
    assert plan_tables(store)["ventas", "warehouse"].spec.schema == "reporting"


def test_schema_is_the_database_default_without_a_connection_schema(store):
    apply_materialization(store, spec(), "ventas.yaml")
    tables = plan_tables(store)
    assert tables["ventas", "warehouse"].spec.schema is None
    assert tables["clientes", "warehouse"].spec.qualified_name == "clientes"


def test_lake_namespace_defaults_to_the_casilla_name(store):
    apply_materialization(store, spec(), "ventas.yaml")
    assert plan_tables(store)["ventas", "lake"].spec.qualified_name == "ventas.fact_ventas"


def test_inactive_materializations_have_no_plan(store):
    row = apply_materialization(store, spec(), "ventas.yaml")
    row.activo = False
    store.flush()
    assert load_plans(store) == []
