"""Signed messages between a run and a remote server's real Celery worker (Redis broker).

A good materialization still runs; a task published straight to the broker with kombu - unsigned,
in a content type kombu always trusts, as a pickle, signed with a key of another installation,
or with its signed body altered - is refused by the worker and never executes: the step it
carries (a real, not yet executed step of a waiting run) writes nothing, records no history and
no Dagster event, until the captured original message, validly signed, is delivered and does.
"""

from __future__ import annotations

import base64
import json
import pickle
import threading
import time
import uuid
import warnings
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet
from dagster import DagsterEventType, DagsterInstance
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import unpack_value
from kombu import Connection

from sage_pipelines.orchestration.run import materialize_upload
from sage_pipelines.servers import signing
from sage_pipelines_tests.conftest import PG_URL
from sage_pipelines_tests.servers_fixtures import home, module_schema, schema, workers  # noqa: F401 (fixtures)
from sage_pipelines_tests.servers_fixtures import (CASILLA, MB, REDIS, add_remote, make_upload, materialize_on,
                                                   server_name, table_rows)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def queued_messages(client: redis.Redis, queue: str) -> dict[bytes, list[bytes]]:
    """The raw messages waiting in `queue` (kombu keeps one Redis list per priority step)."""
    return {key: client.lrange(key, 0, -1) for key in client.scan_iter(match=f"{queue}*")
            if client.type(key) == b"list" and client.llen(key)}


def history_rows(home, upload: str) -> int:
    from sqlalchemy import func, select

    from sage_pipelines.store.db import session_scope
    from sage_pipelines.store.models import MaterializationHistory

    with session_scope(home) as session:
        return session.scalar(select(func.count()).select_from(MaterializationHistory)
                              .where(MaterializationHistory.upload_id == upload))


def step_starts(run_id: str) -> int:
    instance = DagsterInstance.get()
    try:
        return sum(1 for e in instance.all_logs(run_id, of_type=DagsterEventType.STEP_START))
    finally:
        instance.dispose()


def written_rows(schema: str, seed: int, table: str = "t_grande") -> list[tuple]:
    """Rows of upload `seed` in `table` ([] also when no step has created the table yet)."""
    import psycopg

    with psycopg.connect(PG_URL) as conn:
        if conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."{table}"',)).fetchone()[0] is None:
            return []
    return table_rows(PG_URL, schema, table, seed=seed)


def executed(server: str) -> dict[str, int]:
    """The tasks the server's worker has accepted for execution, by task name (its own count)."""
    from sage_pipelines.servers.celery_app import server_app

    app = server_app(server, REDIS)
    try:
        [stats] = (app.control.inspect(timeout=2.0).stats() or {None: None}).values()
        return dict(stats["total"])
    finally:
        app.close()


def wait_for(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Touch:
    """A pickle that creates a file when it is unpickled (what a pickle-accepting worker would do)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_a_signed_materialization_runs_on_the_worker_and_prints_no_duplicate_task_warning(
        home, workers, schema, tmp_path):
    name = server_name("sg")
    add_remote(home, name, capacity=2)
    worker = workers(name)
    upload, data = make_upload(home, tmp_path / "u", {"grande": 2 * MB, "grande2": 2 * MB}, seed=11)
    client = redis.Redis.from_url(REDIS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = materialize_upload(CASILLA, upload, home=home, tables=["grande", "grande2"], server=name)
    assert outcome.success, outcome.errors
    assert {a.metadata["sage/pid"] for a in outcome.assets} <= worker.pids() and len(outcome.assets) == 2
    assert table_rows(PG_URL, schema, "t_grande", seed=11) == data["grande"]
    assert table_rows(PG_URL, schema, "t_grande2", seed=11) == data["grande2"]
    # Two steps of one run used to register dagster-celery's task twice: a 9-line warning.
    duplicates = [str(w.message) for w in caught if w.category.__name__ == "DuplicateTaskNameWarning"]
    assert duplicates == []
    # The steps' results, as the worker stored them: signed JSON, nothing else.
    stored = [client.get(k) for k in client.scan_iter(match="celery-task-meta-*")]
    mine = [v for v in stored if v and outcome.run_id.encode() in v]
    assert len(mine) == 2 and all(v.startswith(b"sage1:") for v in mine)
    assert [signing.decode(v)["status"] for v in mine] == ["SUCCESS", "SUCCESS"]


def test_tasks_published_straight_to_the_broker_unsigned_forged_or_altered_are_refused_and_never_run(
        home, workers, schema, tmp_path, figures):
    name = server_name("fg")
    add_remote(home, name)
    client = redis.Redis.from_url(REDIS)
    upload, data = make_upload(home, tmp_path / "u", {"grande": 2 * MB}, seed=12)

    # 1. A run on the server whose one step is sent while no worker serves the queue: the
    #    message waits there.
    outcome: dict = {}
    run = threading.Thread(target=lambda: outcome.update(result=materialize_upload(
        CASILLA, upload, home=home, tables=["grande"], server=name)), daemon=True)
    run.start()
    queued = wait_for(lambda: queued_messages(client, name), "the run's step message on the queue")
    [(key, [raw])] = queued.items()
    original = json.loads(raw)
    assert original["content-type"] == signing.CONTENT_TYPE
    signed = base64.b64decode(original["body"])
    args, kwargs, embed = signing.decode(signed)
    run_id = unpack_value(kwargs["execute_step_args_packed"], as_type=ExecuteStepArgs).run_id
    client.delete(key)  # the attacker's copies are all the worker will see for now

    # 2. Forged copies of that real step, published with kombu; any one of them, if run, would
    #    write the upload into the table.
    plain = json.dumps([args, kwargs, embed]).encode()
    other_key = signing.signing_key(Fernet.generate_key())
    marker = tmp_path / "unpickled"
    variants = {
        "unsigned JSON": (plain, "application/json", "utf-8"),
        "kombu-trusted raw bytes": (plain, "application/data", "binary"),
        "pickle": (pickle.dumps(Touch(marker)), "application/x-python-serialize", "binary"),
        "signed by another installation's key": (signing.sign(plain, other_key), signing.CONTENT_TYPE, "utf-8"),
        "signed body altered": (signed.replace(b'"step_keys_to_execute": [', b'"step_keys_to_execute": [ ', 1),
                                signing.CONTENT_TYPE, "utf-8"),
        "signature missing": (plain, signing.CONTENT_TYPE, "utf-8"),
        "empty body": (b"", signing.CONTENT_TYPE, "utf-8"),
    }
    assert variants["signed body altered"][0] != signed
    worker = workers(name)
    ids = {}
    with Connection(REDIS) as conn:
        producer = conn.Producer()
        for what, (body, content_type, encoding) in variants.items():
            ids[what] = str(uuid.uuid4())
            producer.publish(body, routing_key=name, content_type=content_type, content_encoding=encoding,
                             headers={**original["headers"], "id": ids[what], "root_id": ids[what]})
    log = worker.log
    refused = wait_for(lambda: all(f"refused task {i}" in log.read_text() for i in ids.values()) and log.read_text(),
                       "the worker to refuse every forged task")
    for what, task_id in ids.items():
        line = next(ln for ln in refused.splitlines() if f"refused task {task_id}" in ln)
        figures(f"{what}: {line[line.index('refused task'):]}")
    assert not queued_messages(client, name)  # consumed and dropped, not requeued

    # 3. None of them had any effect.
    assert written_rows(schema, 12) == []
    assert history_rows(home, upload) == 0
    assert step_starts(run_id) == 0
    assert not marker.exists()
    stats = executed(name)
    assert stats.get("execute_plan", 0) == 0, stats
    for task_id in ids.values():  # each refusal is on record as that task's (signed) failure
        meta = signing.decode(client.get(f"celery-task-meta-{task_id}"))
        assert (meta["status"], meta["result"]["exc_type"]) == ("FAILURE", "SignatureRefused")
    assert run.is_alive()  # the real run still waits for its step

    # 4. The captured message itself, validly signed, does run: the step writes the upload.
    client.lpush(key, raw)
    run.join(timeout=120)
    assert outcome["result"].success, outcome["result"].errors
    assert table_rows(PG_URL, schema, "t_grande", seed=12) == data["grande"]
    assert history_rows(home, upload) == 1 and step_starts(run_id) == 1
    assert executed(name).get("execute_plan") == 1


def test_a_run_and_a_worker_that_sign_with_different_keys_of_one_key_list_accept_each_other(
        home, workers, schema, tmp_path, monkeypatch):
    """Mid-rotation: the worker still lists the old key first, the run the new one."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    name = server_name("rot")
    add_remote(home, name)
    monkeypatch.setenv("SAGE_SECRET_KEY", f"{old},{new}")
    worker = workers(name)
    monkeypatch.setenv("SAGE_SECRET_KEY", f"{new},{old}")
    materialize_on(home, worker, name, tmp_path / "u", "grande2", 13, schema)


def test_a_worker_without_the_runs_key_refuses_its_step_and_the_run_fails_at_once_saying_why(
        home, workers, schema, tmp_path, monkeypatch, figures):
    name = server_name("nokey")
    add_remote(home, name)
    monkeypatch.setenv("SAGE_SECRET_KEY", Fernet.generate_key().decode())
    worker = workers(name)
    monkeypatch.setenv("SAGE_SECRET_KEY", Fernet.generate_key().decode())
    upload, _ = make_upload(home, tmp_path / "u", {"grande3": 2 * MB}, seed=14)
    started = time.monotonic()
    outcome = materialize_upload(CASILLA, upload, home=home, tables=["grande3"], server=name)
    seconds = time.monotonic() - started
    figures(f"the refused step failed the run after {seconds:.1f} s")
    assert not outcome.success
    assert any(f"server {name}:" in e and "refused" in e and "SAGE_SECRET_KEY" in e for e in outcome.errors), \
        outcome.errors
    assert seconds < 25  # well before the 30 s after which an unconfirmed step counts as lost
    assert "refused task" in worker.log.read_text()
    assert written_rows(schema, 14, "t_grande3") == []
