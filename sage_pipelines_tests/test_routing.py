"""Routing with a real Celery worker on Redis: small files run in the run's process, large ones
on the remote server's worker; a server of capacity 1 never runs two steps at once."""

from __future__ import annotations

import os
import uuid

import pytest
from dagster import AssetKey, DagsterInstance

from sage_pipelines.orchestration.definitions_factory import build_definitions
from sage_pipelines.orchestration.run import materialize_upload
from sage_pipelines_tests.conftest import PG_URL
from sage_pipelines_tests.orchestration_fixtures import sensor_context
from sage_pipelines_tests.servers_fixtures import module_schema  # noqa: F401 (a fixture)
from sage_pipelines_tests.servers_fixtures import (CASILLA, KB, MB, Worker, add_remote, apply, build_home, make_upload,
                                                   scoped_env, table_rows)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def remote(tmp_path_factory, module_schema):
    """A SAGE_HOME with remote server `r<hex>` (capacity 1, Redis) and its worker running."""
    with scoped_env():
        root = tmp_path_factory.mktemp("routing") / "sage_home"
        home = build_home(root, module_schema)
        apply(home)
        name = f"r{uuid.uuid4().hex[:8]}"
        add_remote(home, name, capacity=1)
        worker = Worker(home, name, root.parent / "worker.log")
        try:
            yield home, name, worker.start()
        finally:
            worker.kill()


@pytest.fixture
def schema(module_schema):
    return module_schema


def by_table(outcome) -> dict[str, dict]:
    """Metadata by catalog: the asset titled `t_<catalog>` is catalog `<catalog>`'s."""
    return {a.key[-1].removeprefix("t_"): a.metadata for a in outcome.assets}


def test_small_file_runs_in_the_run_process_and_large_file_on_the_worker(remote, schema, tmp_path):
    home, server, worker = remote
    upload, data = make_upload(home, tmp_path / "u1", {"pequeno": 10 * KB, "grande": 5 * MB})
    outcome = materialize_upload(CASILLA, upload, home=home)
    assert outcome.success, outcome.errors
    meta = by_table(outcome)
    assert meta["pequeno"]["server"] == "local" and meta["pequeno"]["sage/pid"] == os.getpid()
    assert meta["grande"]["server"] == server and meta["grande"]["sage/pid"] in worker.pids()
    assert table_rows(PG_URL, schema, "t_pequeno") == data["pequeno"]
    assert table_rows(PG_URL, schema, "t_grande") == data["grande"]

    from sqlalchemy import select

    from sage_pipelines.store.db import session_scope
    from sage_pipelines.store.models import MaterializationHistory, MaterializationServer

    with session_scope(home) as session:
        rows = session.execute(select(MaterializationHistory.tabla, MaterializationServer.nombre,
                                      MaterializationHistory.razon_servidor)
                               .join(MaterializationServer, MaterializationHistory.servidor_id == MaterializationServer.id)
                               .where(MaterializationHistory.upload_id == upload)).all()
    recorded = {table.rsplit(".", 1)[-1]: (name, reason) for table, name, reason in rows}
    assert recorded["t_pequeno"][0] == "local" and "under 1.00 MB" in recorded["t_pequeno"][1]
    assert recorded["t_grande"][0] == server and f"{server} online" in recorded["t_grande"][1]


def test_capacity_one_runs_three_large_files_one_at_a_time(remote, schema, tmp_path):
    home, server, worker = remote
    sizes = {"grande": 2 * MB, "grande2": 2 * MB, "grande3": 2 * MB}
    upload, data = make_upload(home, tmp_path / "u2", sizes, seed=2)
    outcome = materialize_upload(CASILLA, upload, home=home, tables=list(sizes))
    assert outcome.success, outcome.errors
    assert {t: m["server"] for t, m in by_table(outcome).items()} == {t: server for t in sizes}
    for table in sizes:
        assert table_rows(PG_URL, schema, f"t_{table}", seed=2) == data[table]

    from dagster import DagsterEventType

    instance = DagsterInstance.get()
    try:
        records = instance.get_records_for_run(outcome.run_id, of_type={DagsterEventType.STEP_START,
                                                                        DagsterEventType.STEP_SUCCESS}).records
    finally:
        instance.dispose()
    spans: dict[str, list[float]] = {}
    for r in records:
        spans.setdefault(r.event_log_entry.step_key, []).append(r.event_log_entry.timestamp)
    intervals = sorted(tuple(sorted(v)) for v in spans.values())
    assert len(intervals) == 3
    for (_, end), (start, _) in zip(intervals, intervals[1:]):
        assert start >= end, f"two steps overlapped on a capacity-1 server: {intervals}"


def test_landing_sensor_requests_one_run_per_chosen_server(remote, tmp_path):
    home, server, _ = remote
    upload, _ = make_upload(home, tmp_path / "u3", {"pequeno": 10 * KB, "grande": 2 * MB}, seed=3)
    defs = build_definitions(home)
    sensor = defs.resolve_sensor_def("sage_landing_sensor")
    instance = DagsterInstance.get()
    try:
        with sensor_context(home, instance) as context:
            result = sensor(context)
    finally:
        instance.dispose()
    requests = {r.job_name: r for r in result.run_requests if r.partition_key == upload}
    assert set(requests) == {f"materialize_{CASILLA}", f"materialize_{CASILLA}__{server}"}
    local, remote_req = requests[f"materialize_{CASILLA}"], requests[f"materialize_{CASILLA}__{server}"]
    assert AssetKey(["pg", CASILLA, "t_pequeno"]) in local.asset_selection  # with the files this upload lacks
    assert AssetKey(["pg", CASILLA, "t_grande"]) not in local.asset_selection
    assert remote_req.asset_selection == [AssetKey(["pg", CASILLA, "t_grande"])]
    assert local.tags["sage/server"] == "local" and remote_req.tags["sage/server"] == server
    assert remote_req.tags["sage/server_reason"].startswith("t_grande: file of ")  # the table the step writes
