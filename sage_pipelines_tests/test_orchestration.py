"""The Dagster layer: assets from the store, `sage materialize`, the landing sensor, the CLI."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance

from sage_pipelines.cli import main as sage_main
from sage_pipelines.demo import final_counts
from sage_pipelines.orchestration.definitions_factory import build_definitions
from sage_pipelines.destinations.base import Strategy, TableSpec
from sage_pipelines.destinations.registry import LAKE_FORMATS
from sage_pipelines.materialization.plan import DestinationRef, MaterializationPlan, TablePlan
from sage_pipelines.orchestration.jobs import writer_tags
from sage_pipelines.orchestration.routing import server_job
from sage_pipelines.orchestration.run import materialize_upload
from sage_pipelines.types import Column, ColumnType, Kind
from sage_pipelines_tests.orchestration_fixtures import CASILLA, demo_home, land_week, sensor_context  # noqa: F401

KEYS = {AssetKey(["warehouse", CASILLA, t]) for t in ("dim_clientes", "dim_productos", "fact_ventas")}


def warehouse_rows(home, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_definitions_hold_one_asset_per_casilla_file_and_destination(demo_home):
    defs = build_definitions(demo_home)
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    assert KEYS <= set(specs)
    ventas = specs[AssetKey(["warehouse", CASILLA, "fact_ventas"])]
    assert ventas.group_name == CASILLA
    assert ventas.metadata["strategy"] == "delete_insert"
    assert ventas.metadata["dagster/table_name"] == "warehouse.main.fact_ventas"
    assert ventas.partitions_def.name == f"uploads_{CASILLA}"
    assert [d.asset_key for d in ventas.deps] == [AssetKey([CASILLA, "ventas"])]
    assert ventas.kinds == {"duckdb"}
    source = specs[AssetKey([CASILLA, "ventas"])]
    assert source.partitions_def.name == f"uploads_{CASILLA}" and source.kinds == {"csv"}
    lake = specs[AssetKey(["lake", CASILLA, "lake.fact_ventas"])]
    assert [d.asset_key for d in lake.deps] == [AssetKey([CASILLA, "ventas"])] and lake.kinds == {"iceberg"}


def test_materialize_writes_exact_tables_and_standard_metadata(demo_home, tmp_path):
    upload = land_week(demo_home, tmp_path, 1)
    outcome = materialize_upload(CASILLA, upload, home=demo_home)
    assert outcome.success, outcome.errors
    meta = {"/".join(a.key): a.metadata for a in outcome.assets}
    assert set(meta) == {f"warehouse/{CASILLA}/dim_clientes", f"warehouse/{CASILLA}/dim_productos",
                         f"warehouse/{CASILLA}/fact_ventas", f"lake/{CASILLA}/lake.fact_ventas"}
    ventas = meta[f"warehouse/{CASILLA}/fact_ventas"]
    assert ventas["dagster/row_count"] == 2000
    assert ventas["dagster/table_name"] == "warehouse.main.fact_ventas"
    assert {c.name for c in ventas["dagster/column_schema"].columns} >= {"id_venta", "_sage_upload_id"}
    assert meta[f"lake/{CASILLA}/lake.fact_ventas"]["dagster/table_name"] == f"lake.{CASILLA}.fact_ventas"
    source = csv_rows(tmp_path / "week1_auto" / "clientes.csv")
    stored = {r[0]: r for r in warehouse_rows(
        demo_home, "SELECT codigo_cliente, nombre, ciudad, limite_credito, activo FROM dim_clientes")}
    assert len(stored) == len(source)
    for r in source:
        code, name, city, limit, active = stored[r["codigo_cliente"]]
        assert (name, city, limit, active) == (r["nombre"], r["ciudad"] or None, Decimal(r["limite_credito"]),
                                               r["activo"] == "si")


def test_delete_insert_by_week_replaces_a_resent_week(demo_home, tmp_path):
    materialize_upload(CASILLA, land_week(demo_home, tmp_path, 1), home=demo_home)
    outcome = materialize_upload(CASILLA, land_week(demo_home, tmp_path, 2), home=demo_home)
    ventas = next(a.metadata for a in outcome.assets if a.key == ["warehouse", CASILLA, "fact_ventas"])
    assert (ventas["deleted"], ventas["inserted"]) == (2000, 3800)
    weeks = dict(warehouse_rows(demo_home, "SELECT semana, count(*) FROM fact_ventas GROUP BY 1"))
    assert weeks == {1: 1800, 2: 2000}


def test_every_write_records_a_history_row(demo_home, tmp_path, capsys):
    upload = land_week(demo_home, tmp_path, 1)
    materialize_upload(CASILLA, upload, home=demo_home)
    assert sage_main(["history", CASILLA]) == 0
    out = capsys.readouterr().out
    assert out.count(upload) == 4 and "fact_ventas" in out  # 3 warehouse tables + the lake table
    assert out.count(" succeeded ") == 4


def test_a_bad_value_fails_the_run_names_the_line_and_leaves_the_table(demo_home, tmp_path, capsys):
    materialize_upload(CASILLA, land_week(demo_home, tmp_path, 1), home=demo_home)
    before = warehouse_rows(demo_home, "SELECT count(*), sum(total) FROM fact_ventas")
    counts = final_counts(demo_home)  # the lake table too, read back with pyiceberg
    folder = tmp_path / "bad"
    from sage_pipelines.demo.data import write_week

    write_week(folder, 3)
    lines = (folder / "ventas.csv").read_text(encoding="utf-8").splitlines()
    fields = lines[1500].split(",")
    fields[7] = "12.5x"
    lines[1500] = ",".join(fields)
    (folder / "ventas.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert sage_main(["uploads", "add", CASILLA, str(folder), "--id", "bad-week"]) == 0
    capsys.readouterr()
    assert sage_main(["materialize", CASILLA, "--upload", "bad-week", "--table", "ventas", "--in-process"]) == 1
    err = capsys.readouterr().err
    assert "line 1501" in err and "total" in err and "12.5x" in err
    assert warehouse_rows(demo_home, "SELECT count(*), sum(total) FROM fact_ventas") == before
    assert final_counts(demo_home) == counts


def test_materialize_names_an_unknown_table_in_one_line(demo_home, tmp_path, capsys):
    land_week(demo_home, tmp_path, 1)
    assert sage_main(["materialize", CASILLA, "--table", "nope"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]


def test_sensor_requests_one_run_per_new_upload_and_none_for_seen_ones(demo_home, tmp_path):
    defs = build_definitions(demo_home)
    sensor = defs.resolve_sensor_def("sage_landing_sensor")
    first = land_week(demo_home, tmp_path, 1, "u-0001")
    second = land_week(demo_home, tmp_path, 2, "u-0002")
    with DagsterInstance.ephemeral() as instance:
        result = sensor(sensor_context(demo_home, instance))
        assert sorted(r.partition_key for r in result.run_requests) == [first, second]
        assert {r.job_name for r in result.run_requests} == {f"materialize_{CASILLA}"}
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        again = sensor(sensor_context(demo_home, instance, result.cursor))
        assert not getattr(again, "run_requests", None)
        third = land_week(demo_home, tmp_path, 3, "u-0003")
        later = sensor(sensor_context(demo_home, instance, result.cursor))
        assert [r.partition_key for r in later.run_requests] == [third]


def dagster_cli(home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SAGE_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)}
    return subprocess.run([sys.executable, "-m", "dagster", *args], env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_dagster_cli_lists_the_assets_and_materializes_one_partition(demo_home, tmp_path):
    listed = dagster_cli(demo_home, "asset", "list", "-m", "sage_pipelines.definitions")
    assert listed.returncode == 0, listed.stderr
    for key in ("warehouse/ventas_semanales/dim_clientes", "warehouse/ventas_semanales/fact_ventas"):
        assert key in listed.stdout
    upload = land_week(demo_home, tmp_path, 1, "cli-upload")
    instance = DagsterInstance.get()
    instance.add_dynamic_partitions(f"uploads_{CASILLA}", [upload])
    instance.dispose()
    run = dagster_cli(demo_home, "asset", "materialize", "-m", "sage_pipelines.definitions",
                      "--select", "warehouse/ventas_semanales/dim_productos", "--partition", upload)
    assert run.returncode == 0, run.stderr[-3000:]
    assert warehouse_rows(demo_home, "SELECT count(*) FROM dim_productos") == [(80,)]


def test_sensor_skips_a_landing_folder_that_is_not_a_valid_upload(demo_home, tmp_path):
    defs = build_definitions(demo_home)
    sensor = defs.resolve_sensor_def("sage_landing_sensor")
    stray = demo_home.landing / CASILLA / "stray"
    stray.mkdir(parents=True)
    (stray / "unknown.txt").write_text("not a catalog file", encoding="utf-8")
    good = land_week(demo_home, tmp_path, 1, "u-good")
    with DagsterInstance.ephemeral() as instance:
        result = sensor(sensor_context(demo_home, instance))
        assert [r.partition_key for r in result.run_requests] == [good]


def write_execution(root: Path, uuid: str, casilla: str, status: str, data: Path | None) -> Path:
    folder = root / uuid
    folder.mkdir(parents=True)
    (folder / "input.yaml").write_text("sage_yaml: {name: x}\n", encoding="utf-8")
    if data is not None:
        (folder / f"data{data.suffix}").write_bytes(data.read_bytes())
    (folder / "report.json").write_text(json.dumps(
        {"summary": {"status": status}, "execution_info": {"casilla_id": casilla}}), encoding="utf-8")
    return folder


def test_executions_sensor_lands_successful_executions_as_uploads(demo_home, tmp_path):
    import zipfile

    from sage_pipelines.demo.data import write_week

    week = write_week(tmp_path / "w1", 1)
    package = tmp_path / "paquete.zip"
    with zipfile.ZipFile(package, "w") as z:
        for name in ("clientes.csv", "productos.csv", "ventas.csv"):
            z.write(week / name, name)
    root = demo_home.executions
    write_execution(root, "0b6f3a2e-aaaa-4bbb-8ccc-000000000001", CASILLA, "Éxito", package)
    write_execution(root, "0b6f3a2e-aaaa-4bbb-8ccc-000000000002", CASILLA, "Fallido", package)
    pending = root / "0b6f3a2e-aaaa-4bbb-8ccc-000000000003"
    pending.mkdir()  # report.json not written yet
    defs = build_definitions(demo_home)
    with DagsterInstance.ephemeral() as instance:
        context = sensor_context(demo_home, instance)
        defs.resolve_sensor_def("sage_executions_sensor")(context)
        landed = sorted(p.name for p in (demo_home.landing / CASILLA).iterdir())
        assert landed == ["0b6f3a2e-aaaa-4bbb-8ccc-000000000001"]
        result = defs.resolve_sensor_def("sage_landing_sensor")(sensor_context(demo_home, instance))
        assert [r.partition_key for r in result.run_requests] == landed
    cursor = json.loads(context.cursor)
    assert "0b6f3a2e-aaaa-4bbb-8ccc-000000000003" not in cursor["seen"] + cursor["waiting"]  # looked at again


def test_an_execution_for_a_casilla_registered_later_lands_once_it_is(demo_home, tmp_path):
    from sage_pipelines.demo.data import write_week
    from sage_pipelines.services.casillas import register_casilla
    from sage_pipelines.store.db import session_scope

    week = write_week(tmp_path / "w1", 1)
    single = """
sage_yaml: {name: Productos}
catalogs:
  productos:
    name: Productos
    filename: productos.csv
    file_format: {type: CSV, delimiter: ",", header: true}
    fields:
      - {name: codigo_producto, type: texto}
      - {name: nombre, type: texto}
      - {name: categoria, type: texto}
      - {name: precio, type: decimal}
"""
    write_execution(demo_home.executions, "0b6f3a2e-aaaa-4bbb-8ccc-00000000000a", "productos_tarde", "Éxito",
                    week / "productos.csv")
    defs = build_definitions(demo_home)
    sensor = defs.resolve_sensor_def("sage_executions_sensor")
    with DagsterInstance.ephemeral() as instance:
        context = sensor_context(demo_home, instance)
        sensor(context)
        assert not (demo_home.landing / "productos_tarde").exists()
        with session_scope(demo_home) as session:
            register_casilla(session, "productos_tarde", single, "productos_tarde.yaml")
        sensor(sensor_context(demo_home, instance, context.cursor))
        assert [p.name for p in (demo_home.landing / "productos_tarde").iterdir()] == [
            "0b6f3a2e-aaaa-4bbb-8ccc-00000000000a"]


def test_history_of_an_unknown_casilla_is_a_one_line_error(demo_home, capsys):
    assert sage_main(["history", "no_such_casilla"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_casilla" in err[0]


def scheduled_requests(defs, name: str, instance) -> list:
    import datetime as dt

    from dagster import build_schedule_context

    context = build_schedule_context(instance=instance, scheduled_execution_time=dt.datetime(2026, 12, 7, 6, 0),
                                     repository_def=defs.get_repository_def())
    data = defs.resolve_schedule_def(name).evaluate_tick(context)
    return list(data.run_requests or [])


@pytest.mark.parametrize("server, local_runs, remote_runs", [("auto", 1, 0), ("big1", 0, 1)])
def test_schedules_route_the_newest_upload_through_the_balancer(demo_home, tmp_path, server, local_runs,
                                                               remote_runs):
    """One schedule per server job, same cron: each requests only the steps routed to its server
    (small files go local under `auto`; a pinned materialization always goes to its server)."""
    from sage_pipelines.demo import DEMO_DIR
    from sage_pipelines.services.servers import add_server
    from sage_pipelines.services.materializations import apply_materialization
    from sage_pipelines.store.db import session_scope

    with session_scope(demo_home) as session:
        add_server(session, "big1", "remote", endpoint="redis://127.0.0.1:6379/15", capacity=2, home=demo_home)
    text = (DEMO_DIR / "materialization.yaml").read_text(encoding="utf-8")
    text = text.replace("server: auto", f"server: {server}\n  schedule: \"0 6 * * 1\"")
    with session_scope(demo_home) as session:
        apply_materialization(session, text, "materialization.yaml")
    upload = land_week(demo_home, tmp_path, 1)
    defs = build_definitions(demo_home)
    with DagsterInstance.get() as instance:  # the test's own DAGSTER_HOME
        instance.add_dynamic_partitions(f"uploads_{CASILLA}", [upload])
        local = scheduled_requests(defs, f"{CASILLA}_schedule", instance)
        remote = scheduled_requests(defs, f"{CASILLA}_schedule__big1", instance)
    assert (len(local), len(remote)) == (local_runs, remote_runs)
    (request,) = local + remote
    assert request.partition_key == upload
    assert request.job_name == (f"materialize_{CASILLA}" if server == "auto" else f"materialize_{CASILLA}__big1")
    assert len(request.asset_selection) == 4  # every table of the materialization, on one server


def test_runs_writing_one_duckdb_file_queue_one_at_a_time(demo_home):
    """DuckDB's writer scope is the file: the casilla's job carries its DuckDB connection as the
    `sage/file_writer` run tag, and the instance's run queue limits that tag to one run per value:
    launched runs never fight over the file's lock. Iceberg detects conflicting commits itself,
    so the lake adds no writer tag."""
    job = build_definitions(demo_home).resolve_job_def(f"materialize_{CASILLA}")
    assert job.tags["sage/file_writer"] == "warehouse"
    assert "sage/table_writer" not in job.tags
    with DagsterInstance.get() as instance:
        limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits
    for writer in ("sage/file_writer", "sage/table_writer"):
        assert {"key": writer, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


def test_the_run_queue_runs_one_run_at_a_time_per_backfill(demo_home):
    """Dagster tags each run of a backfill with its id (`dagster/backfill`): one run per value at a
    time keeps a backfill's uploads in the order it created their runs (test_backfill_ui)."""
    with DagsterInstance.get() as instance:
        limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits
    assert {"key": "dagster/backfill", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


def test_a_sage_materialize_run_carries_the_writer_tags_of_its_job(demo_home, tmp_path):
    upload = land_week(demo_home, tmp_path, 1)
    outcome = materialize_upload(CASILLA, upload, tables=["clientes"], home=demo_home, server="local")
    assert outcome.success, outcome.errors
    with DagsterInstance.get() as instance:
        assert instance.get_run_by_id(outcome.run_id).tags["sage/file_writer"] == "warehouse"


def _plan(casilla: str, *tables: tuple[str, str, str]) -> MaterializationPlan:
    """A resolved plan writing (kind, connection or lake, schema.table) destinations."""
    refs = []
    for i, (kind, place, table) in enumerate(tables):
        lake = kind in LAKE_FORMATS
        schema, _, name = table.rpartition(".")
        refs.append(TablePlan(i, f"c{i}", DestinationRef(i, f"d{i}", kind, None if lake else place,
                                                         place if lake else None, kind if lake else None),
                              TableSpec(name=name, schema=schema or None, strategy=Strategy.APPEND,
                                        columns=(Column("x", ColumnType(Kind.INTEGER)),))))
    return MaterializationPlan(1, casilla, casilla, None, "auto", None, "", tuple(refs))


def test_writer_tags_follow_each_kinds_writer_scope():
    plans = [_plan("ventas", ("duckdb", "warehouse", "main.a"), ("hudi", "lake", "ventas.b"),
                   ("hudi", "lake", "ventas.c"), ("iceberg", "lake", "ventas.d"), ("postgresql", "pg", "public.e"),
                   ("delta", "lake", "ventas.f"), ("mysql", "my", "db.g")),
             _plan("otra", ("duckdb", "other", "main.a"))]
    assert writer_tags(plans, "ventas") == {"sage/file_writer": "warehouse",
                                            "sage/table_writer": "lake/ventas.b,lake/ventas.c"}
    assert writer_tags(plans, "otra") == {"sage/file_writer": "other"}
    assert writer_tags([_plan("pg", ("postgresql", "pg", "public.e"))], "pg") == {}


def test_remote_server_jobs_carry_the_writer_tags_too():
    tags = server_job("ventas", "big1", {"sage/table_writer": "lake/ventas.b"}).tags
    assert tags == {"sage/table_writer": "lake/ventas.b", "sage/server": "big1"}


def test_an_upload_without_a_tables_file_leaves_that_table_and_its_checks_do_not_fail_the_run(demo_home, tmp_path):
    from sage_pipelines.demo.data import write_week
    from sage_pipelines.services.uploads import add_upload
    from sage_pipelines.store.db import session_scope

    folder = write_week(tmp_path / "only_clientes", 1)
    for name in ("productos.csv", "ventas.csv"):
        (folder / name).unlink()
    with session_scope(demo_home) as session:
        add_upload(session, demo_home, CASILLA, folder, upload_id="only-clientes")
    outcome = materialize_upload(CASILLA, "only-clientes", home=demo_home)
    assert outcome.success, outcome.errors
    assert [a.key for a in outcome.assets] == [["warehouse", CASILLA, "dim_clientes"]]
