"""Real Celery workers: status against live and stopped workers, a worker SIGKILLed mid-write,
RabbitMQ, a broker that is down, and the Dagster sensor that fails runs orphaned on dead servers."""

from __future__ import annotations

import signal
import threading
import time

import psycopg
import pytest
from dagster import DagsterInstance, DagsterRunStatus

from sage_pipelines.cli import main as sage_main
from sage_pipelines.orchestration.run import materialize_upload
from sage_pipelines_tests.conftest import PG_URL
from sage_pipelines_tests.servers_fixtures import module_schema, schema, workers  # noqa: F401 (fixtures)
from sage_pipelines_tests.servers_fixtures import (CASILLA, KB, MB, RABBIT, add_remote, apply, build_home,
                                                   make_upload, scoped_env, server_name, table_rows)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
LOST_SECONDS = "4"


@pytest.fixture(scope="module")
def home(tmp_path_factory, module_schema):
    with scoped_env(SAGE_WORKER_LOST_SECONDS=LOST_SECONDS):
        root = tmp_path_factory.mktemp("workers") / "sage_home"
        home = build_home(root, module_schema)
        apply(home)
        yield home


def status_rows(capsys) -> dict[str, list[str]]:
    assert sage_main(["servers", "status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    return {line.split()[0]: dict(zip(header, line.split())) for line in lines[1:]}


def test_status_against_a_live_and_a_stopped_worker(home, workers, capsys, tmp_path):
    name = server_name("st")
    add_remote(home, name, capacity=2)
    worker = workers(name)
    upload, _ = make_upload(home, tmp_path / "u", {"grande": 2 * MB}, seed=3)
    assert materialize_upload(CASILLA, upload, home=home, tables=["grande"]).success
    live = status_rows(capsys)[name]
    assert (live["STATE"], live["NODES"].split("@")[0], live["CAPACITY"], live["DONE"], live["FAILED"]) == \
        ("online", name, "2", "1", "0")
    assert live["ACTIVE"] == "0" and live["RESERVED"] == "0" and live["LAST_HEARTBEAT"]
    worker.kill(signal.SIGTERM)
    stopped = status_rows(capsys)[name]
    assert (stopped["STATE"], stopped["NODES"], stopped["DONE"]) == ("offline", "-", "1")
    from sage_pipelines.services.servers import get_server
    from sage_pipelines.store.db import session_scope

    with session_scope(home) as session:
        row = get_server(session, name)
        assert row.estado == "offline"
        assert (row.metricas["steps_ok"], row.metricas["capacity"], row.metricas["nodes"]) == (1, 2, [])


def _wait_for_blocked_writer(schema: str, table: str, timeout: float = 90.0) -> None:
    """Until a PostgreSQL session writing `table` waits on our lock (the worker is mid-write)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                   "AND query ILIKE %s", (f"%{table}%",)).fetchone()[0]
            if waiting:
                return
            time.sleep(0.2)
    raise AssertionError(f"no writer of {schema}.{table} ever waited on the lock")


def test_sigkill_mid_write_leaves_the_table_unchanged_and_fails_naming_the_server(home, workers, schema, tmp_path):
    name = server_name("k")
    add_remote(home, name, capacity=1)
    worker = workers(name)
    first, _ = make_upload(home, tmp_path / "first", {"grande2": 2 * MB}, seed=4)
    assert materialize_upload(CASILLA, first, home=home, tables=["grande2"]).success
    before = table_rows(PG_URL, schema, "t_grande2")
    second, data = make_upload(home, tmp_path / "second", {"grande2": 2 * MB}, seed=5)

    outcome: dict = {}
    lock = psycopg.connect(PG_URL)
    try:
        lock.execute(f'LOCK TABLE "{schema}"."t_grande2" IN ACCESS EXCLUSIVE MODE')
        run = threading.Thread(target=lambda: outcome.update(result=materialize_upload(
            CASILLA, second, home=home, tables=["grande2"])))
        run.start()
        _wait_for_blocked_writer(schema, "t_grande2")
        worker.kill(signal.SIGKILL)
    finally:
        lock.rollback()
        lock.close()
    run.join(timeout=120)
    assert not run.is_alive(), "the run hung after its worker died"
    result = outcome["result"]
    assert not result.success
    assert any(f"server {name}: worker {name}@" in e and "the step was lost" in e for e in result.errors), result.errors
    assert table_rows(PG_URL, schema, "t_grande2") == before

    workers(name)
    again = materialize_upload(CASILLA, second, home=home, tables=["grande2"])
    assert again.success, again.errors
    assert table_rows(PG_URL, schema, "t_grande2", seed=5) == data["grande2"]
    assert len(table_rows(PG_URL, schema, "t_grande2")) == len(before) + len(data["grande2"])


def test_a_remote_server_on_rabbitmq(home, workers, schema, tmp_path):
    name = server_name("rb")
    add_remote(home, name, endpoint=RABBIT, capacity=1)
    worker = workers(name)
    upload, data = make_upload(home, tmp_path / "u", {"grande3": 2 * MB}, seed=6)
    outcome = materialize_upload(CASILLA, upload, home=home, tables=["grande3"])
    assert outcome.success, outcome.errors
    meta = outcome.assets[0].metadata
    assert meta["server"] == name and meta["sage/pid"] in worker.pids()
    assert table_rows(PG_URL, schema, "t_grande3", seed=6) == data["grande3"]


def test_a_broker_that_is_down_fails_the_remote_run_and_not_the_local_one(home, schema, tmp_path):
    name = server_name("down")
    add_remote(home, name, endpoint="redis://127.0.0.1:6399/0")
    upload, data = make_upload(home, tmp_path / "u", {"pequeno": 10 * KB}, seed=7)
    remote = materialize_upload(CASILLA, upload, home=home, tables=["pequeno"], server=name)
    assert not remote.success
    assert any(f"server {name}: broker redis://127.0.0.1:6399/0 is unreachable" in e for e in remote.errors), remote.errors
    local = materialize_upload(CASILLA, upload, home=home, tables=["pequeno"], server="local")
    assert local.success, local.errors
    assert table_rows(PG_URL, schema, "t_pequeno", seed=7) == data["pequeno"]


def test_the_servers_sensor_fails_a_run_orphaned_on_a_dead_server(home, monkeypatch):
    from dagster import build_sensor_context
    from dagster._core.test_utils import create_run_for_test

    from sage_pipelines.servers.monitor import build_servers_sensor

    name = server_name("gone")
    add_remote(home, name, endpoint="redis://127.0.0.1:6379/7")  # no worker will ever answer
    monkeypatch.setenv("SAGE_SERVER_DEAD_SECONDS", "0")
    instance = DagsterInstance.get()
    try:
        run = create_run_for_test(instance, job_name=f"materialize_{CASILLA}__{name}",
                                  status=DagsterRunStatus.STARTED, tags={"sage/server": name})
        other = create_run_for_test(instance, job_name=f"materialize_{CASILLA}",
                                    status=DagsterRunStatus.STARTED, tags={"sage/server": "local"})
        with build_sensor_context(instance=instance) as context:
            result = build_servers_sensor(home)(context)
        assert f"{name} offline" in result.skip_message
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(other.run_id).status == DagsterRunStatus.STARTED
        messages = [e.message for e in instance.all_logs(run.run_id)]
        assert any(f"server {name}: no worker has answered" in (m or "") for m in messages)
    finally:
        instance.dispose()
