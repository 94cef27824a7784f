"""`materializations apply` refuses what a destination cannot do, reading its kind's capabilities,
in one line naming the key path: before, these were refused only in the middle of a run."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from sage_pipelines.destinations.registry import DESTINATION_KINDS, capabilities
from sage_pipelines.errors import ConfigError
from sage_pipelines.services.materializations import apply_materialization
from sage_pipelines.services.casillas import register_casilla
from sage_pipelines_tests.test_materialization import add_connection, spec, store, ventas  # noqa: F401 (fixture)

LONG = "ñ" * 32  # 32 characters, 64 bytes

CASILLA = """sage_yaml: {name: nombres}
catalogs:
  datos:
    name: Datos
    filename: datos.csv
    file_format: {type: CSV, delimiter: ",", header: true}
    fields:
      - {name: id, type: entero}
      - {name: "%s", type: texto}
"""

TWO_DATES = """sage_yaml: {name: fechas}
catalogs:
  datos:
    name: Datos
    filename: datos.csv
    file_format: {type: CSV, delimiter: ",", header: true}
    fields:
      - {name: id, type: entero}
      - {name: alta, type: fecha}
      - {name: baja, type: fecha}
"""


@pytest.fixture
def kinds(store: Session) -> Session:
    """The store of test_materialization plus a connection of every database kind and lake
    formats as destinations."""
    add_connection(store, "my", "mysql", "ventas")
    add_connection(store, "ms", "sqlserver")
    return store


def apply(session: Session, change) -> None:
    apply_materialization(session, spec(change), "v.yaml")


def refused(session: Session, change) -> str:
    with pytest.raises(ConfigError) as info:
        apply(session, change)
    message = str(info.value)
    assert "\n" not in message and message.startswith("v.yaml: materialization.")
    return message


def to(alias_spec: dict, table: str | None = None, **partitioning):
    """A change sending table `ventas` to one destination only."""
    def change(m: dict) -> None:
        m["destinations"] = {"d": alias_spec}
        v = ventas(m)
        v["destinations"] = ["d"]
        if table is not None:
            v["table"] = table
        if partitioning:
            v["partitioning"] = partitioning
        m["tables"].pop("clientes")
    return change


def test_delta_refuses_a_bucket_transform_at_apply_not_in_the_middle_of_a_run(kinds):
    message = refused(kinds, to({"lake": "local_lake", "format": "delta"}, columns=["codigo_cliente"],
                                transform="bucket[8]"))
    assert message.startswith("v.yaml: materialization.tables.ventas.partitioning.transform: delta cannot "
                              "partition by bucket[8] (destination 'd'); it takes day, identity, month, year")
    apply(kinds, to({"lake": "local_lake", "format": "iceberg"}, columns=["codigo_cliente"], transform="bucket[8]"))


def test_hudi_takes_one_column_for_a_time_transform(store):
    register_casilla(store, "fechas", TWO_DATES, "fechas.yaml")

    def change(m: dict) -> None:
        m.update(casilla="fechas", destinations={"d": {"lake": "local_lake", "format": "hudi"}},
                 tables={"datos": {"strategy": "append", "partitioning": {"columns": ["alta", "baja"],
                                                                          "transform": "month"}}})
        m.pop("schedule")

    assert refused(store, change) == ("v.yaml: materialization.tables.datos.partitioning.columns: hudi takes at "
                                      "most 1 column(s) for a month transform (destination 'd'), not 2")


def test_a_database_keeps_ignoring_partitioning_which_is_for_lakes(kinds):
    apply(kinds, to({"connection": "pg"}, columns=["codigo_cliente"], transform="bucket[8]"))


@pytest.mark.parametrize("connection, table, says", [
    ("pg", "r" * 64, "64 bytes long, more than the 63 allowed here"),
    ("pg", LONG, "64 bytes long, more than the 63 allowed here"),
    ("my", "m" * 65, "65 characters long, more than the 64 allowed here"),
    ("my", "ventas_\U0001F600", "(U+1F600; at most U+FFFF)"),
    ("ms", "#ventas", "cannot start with '#'"),
])
def test_a_table_name_a_database_cannot_hold_is_refused_at_apply(kinds, connection, table, says):
    message = refused(kinds, to({"connection": connection}, table=table))
    kind = {"pg": "postgresql", "my": "mysql", "ms": "sqlserver"}[connection]
    assert message.startswith(f"v.yaml: materialization.tables.ventas.table: {table!r} cannot be a {kind} table "
                              "(destination 'd'): ")
    assert message.endswith(says)


def test_the_longest_names_a_database_takes_are_accepted(kinds):
    apply(kinds, to({"connection": "pg"}, table="p" * 63))
    apply(kinds, to({"connection": "my"}, table="ñ" * 64))


def test_a_schema_name_too_long_is_refused_naming_the_table_key(kinds):
    message = refused(kinds, to({"connection": "pg"}, table=f"{'s' * 64}.ventas"))
    assert f"materialization.tables.ventas.table: {'s' * 64!r} cannot be a postgresql schema" in message


@pytest.mark.parametrize("column, kind, says", [
    ("c" * 65, "mysql", "65 characters long, more than the 64 allowed here"),
    ("precio_\U0001F600", "mysql", "U+1F600"),
    ("x" * 64, "postgresql", "64 bytes long, more than the 63 allowed here"),
    ("año", "hudi", "Avro field names use only ASCII letters"),
])
def test_a_column_name_a_destination_cannot_hold_is_refused_at_apply(store, column, kind, says):
    register_casilla(store, "nombres", CASILLA % column, "nombres.yaml")
    add_connection(store, "my", "mysql", "ventas")
    destination = {"lake": "local_lake", "format": kind} if kind == "hudi" else {"connection": "my" if kind == "mysql" else "pg"}

    def change(m: dict) -> None:
        m.update(casilla="nombres", destinations={"d": destination}, tables={"datos": {"strategy": "append"}})
        m.pop("schedule")

    message = refused(store, change)
    assert message.startswith(f"v.yaml: materialization.tables.datos (destination 'd'): column {column!r} cannot be "
                              f"a {kind} column: ")
    assert says in message


def test_every_kind_declares_what_the_validator_and_the_run_queue_read():
    for kind in DESTINATION_KINDS:
        caps = capabilities(kind)
        assert caps.strategies and caps.table_names.max_length > 0 and caps.column_names.max_length > 0
        assert caps.writer_scope.value in ("file", "table", "none")
    assert capabilities("duckdb").writer_scope.value == "file"
    assert capabilities("hudi").writer_scope.value == "table"
    assert not capabilities("mysql").transactional_ddl and capabilities("postgresql").transactional_ddl
