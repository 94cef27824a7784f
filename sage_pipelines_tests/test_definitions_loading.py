"""Loading the code location only reads the store, a run builds only its own job, and the sensors'
cursors stay the same size however many uploads arrive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile

from dagster import DagsterInstance

from sage_pipelines.demo import DEMO_DIR
from sage_pipelines.orchestration.definitions_factory import BUILT, build_definitions, load_job
from sage_pipelines.orchestration.executions import ExecutionsCursor, scan_executions
from sage_pipelines.services.casillas import register_casilla
from sage_pipelines.services.materializations import apply_materialization
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import engine_for, migrate, schema_revisions, session_scope
from sage_pipelines_tests.conftest import run_sage
from sage_pipelines_tests.orchestration_fixtures import CASILLA, demo_home, land_week, sensor_context  # noqa: F401
from sage_pipelines_tests.test_orchestration import write_execution

LIST_LOCATION = """
import json
from sage_pipelines.definitions import defs
from sage_pipelines.orchestration.definitions_factory import BUILT
print(json.dumps({"jobs": sorted(j.name for j in defs.get_all_jobs()), "built": BUILT}))
"""

RUN_ONE_JOB = """
import json, os, sys
from dagster import DagsterInstance, execute_job
from dagster._core.definitions.reconstruct import ReconstructableRepository
from sage_pipelines.orchestration.definitions_factory import BUILT

# What a run worker does with the run's origin: the code location's module, then the job by name.
job = ReconstructableRepository.for_module("sage_pipelines.definitions", "defs", os.getcwd()).get_reconstructable_job(
    sys.argv[1])
instance = DagsterInstance.get()
instance.add_dynamic_partitions(sys.argv[3], [sys.argv[2]])
with execute_job(job, instance, tags={"dagster/partition": sys.argv[2]}) as result:
    print(json.dumps({"success": result.success, "built": BUILT}))
"""


def python(home: SageHome, code: str, *args: str) -> dict:
    env = {**os.environ, "SAGE_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def store_file_state(home: SageHome) -> tuple[bytes, int]:
    engine_for(home.store_url).dispose()  # this process's connections closed: the WAL checkpointed into sage.db
    path = home.root / "sage.db"
    return path.read_bytes(), path.stat().st_mtime_ns


def test_loading_the_definitions_writes_nothing_to_the_store(demo_home):
    before = store_file_state(demo_home)
    listed = python(demo_home, LIST_LOCATION)
    assert f"materialize_{CASILLA}" in listed["jobs"] and listed["built"] == ["*"]
    assert store_file_state(demo_home) == before


def test_a_store_behind_loads_empty_without_migrating_and_sage_dev_says_run_sage_init(sage_home):
    home = SageHome(sage_home)
    migrate(home.store_url, "0003")  # an installation upgraded without `sage init`
    before = store_file_state(home)
    assert python(home, LIST_LOCATION)["jobs"] == []
    assert schema_revisions(home.store_url)[0] == "0003"
    assert store_file_state(home) == before
    done = run_sage(home.root, "dev", "--port", "1")
    assert done.returncode == 1
    head = schema_revisions(home.store_url)[1]
    assert head > "0003"
    assert done.stderr.splitlines() == [f"sage: error: the store of {home.root} is at revision 0003, this version "
                                        f"needs {head}: run `sage init` to migrate it"]
    assert schema_revisions(home.store_url)[0] == "0003"


def add_second_casilla(home: SageHome, name: str) -> None:
    with session_scope(home) as session:
        register_casilla(session, name, (DEMO_DIR / "ventas_semanales.yaml").read_text(encoding="utf-8"), f"{name}.yaml")
    spec = (DEMO_DIR / "materialization.yaml").read_text(encoding="utf-8").replace(
        "name: ventas_semanales", f"name: {name}").replace("casilla: ventas_semanales", f"casilla: {name}")
    with session_scope(home) as session:
        apply_materialization(session, spec, f"{name}.yaml")


def test_a_run_process_builds_only_the_job_of_its_own_casilla(demo_home, tmp_path):
    add_second_casilla(demo_home, "otra_casilla")
    upload = land_week(demo_home, tmp_path, 1, "only-mine")
    ran = python(demo_home, RUN_ONE_JOB, f"materialize_{CASILLA}", upload, f"uploads_{CASILLA}")
    assert ran == {"success": True, "built": [f"{CASILLA}@local"]}  # not the other casilla, not the whole location
    BUILT.clear()
    job = load_job("materialize_otra_casilla")  # `build_reconstructable_job`'s loader (--in-process, Celery steps)
    assert BUILT == ["otra_casilla@local"]
    keys = job.asset_layer.asset_graph.get_all_asset_keys()  # the casilla's catalogs and its tables, nothing else
    assert keys and all("otra_casilla" in key.path and CASILLA not in key.path for key in keys)


def test_the_landing_sensor_cursor_does_not_grow_with_uploads(demo_home, tmp_path):
    sensor = build_definitions(demo_home).resolve_sensor_def("sage_landing_sensor")
    with DagsterInstance.ephemeral() as instance:
        cursors = []
        for batch in (range(2), range(2, 12)):
            ids = [land_week(demo_home, tmp_path, 1 + i % 3, f"u-{i:03d}") for i in batch]
            result = sensor(sensor_context(demo_home, instance))
            assert sorted(r.partition_key for r in result.run_requests) == ids  # the new ones only
            for request in result.dynamic_partitions_requests:  # what the daemon does with the result
                instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            cursors.append(result.cursor)
        assert cursors == [None, None]  # the partitions are the record of what was seen


def test_the_executions_sensor_cursor_stays_bounded_as_executions_accumulate(demo_home, tmp_path):
    data = tmp_path / "productos.zip"  # a package: its member keeps the catalog's file name
    with zipfile.ZipFile(data, "w") as package:
        package.writestr("productos.csv", "codigo_producto,nombre,categoria,precio\nP1,uno,a,1.50\n")
    cursor, sizes = ExecutionsCursor(), []
    for batch in (range(3), range(3, 23)):
        for i in batch:
            write_execution(demo_home.executions, f"0b6f3a2e-aaaa-4bbb-8ccc-{i:012d}", CASILLA, "Éxito", data)
        time.sleep(0.05)  # file times are coarse: the next tick's mark is past every report written so far
        cursor, landed = scan_executions(demo_home, cursor, time.time(), lambda _line: None, lag=0.0)
        assert len(landed) == len(batch)
        sizes.append(len(cursor.seen) + len(cursor.waiting))
    assert sizes == [0, 0]
    again, landed = scan_executions(demo_home, cursor, time.time(), lambda _line: None, lag=0.0)
    assert landed == [] and again.since >= cursor.since  # nothing decided twice
