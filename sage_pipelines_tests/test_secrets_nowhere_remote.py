"""Secrets nowhere, through a remote server: a PostgreSQL password and a broker password, both
canaries, are used by a real Celery worker for a good and a failing materialization, and then
neither is found in plaintext (as is, URL-encoded or base64-encoded) in: every file under
SAGE_HOME and DAGSTER_HOME (the store, Dagster's run and event storage, compute logs), the
Dagster runs, tags, run config and event records read through Dagster's API, every command
that crossed the broker (Redis: MONITOR on a connection of its own; RabbitMQ: the firehose
tracer of a vhost of its own), what is left in the broker, the worker's process arguments and
environment, the worker's log, this process's stdout / stderr, the run errors, and the CLI's
server listings.

The PostgreSQL role is created with the canary as its password (the machine's PostgreSQL trusts
local connections, so it is never checked; the worker still decrypts and hands it to psycopg).
The Redis broker is a redis-server of the test's own with `requirepass`; RabbitMQ gets a user
with the canary password in a vhost of the test's own.
"""

from __future__ import annotations

import base64
import contextlib
import re
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import quote, quote_plus

import psycopg
import pytest
from dagster import DagsterInstance
from dagster._serdes import serialize_value
from psycopg import sql

from sage_pipelines.cli import main as sage_main
from sage_pipelines.orchestration.run import materialize_upload
from sage_pipelines.servers.celery_app import server_app
from sage_pipelines.services.servers import broker_url, get_server
from sage_pipelines.store.db import session_scope
from sage_pipelines.services.secrets import add_secret, get_secret, secret_payload
from sage_pipelines_tests.broker_fixtures import RedisServer
from sage_pipelines_tests.conftest import PG_URL
from sage_pipelines_tests.secrets_support import canary
from sage_pipelines_tests.servers_fixtures import module_schema, schema, workers  # noqa: F401 (fixtures)
from sage_pipelines_tests.servers_fixtures import (CASILLA, MB, add_remote, apply, build_home, make_upload,
                                                   materialize_on, scoped_env, server_name)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]
PG_CANARY = canary()
BROKER_CANARY = canary()


# --- finding a canary -------------------------------------------------------------------------------

def spellings(secret: str) -> set[bytes]:
    """The canary as is, URL-encoded, and inside base64 at each of the three byte alignments."""
    raw = secret.encode()
    found = {raw, quote(secret, safe="").encode(), quote_plus(secret).encode()}
    for pad in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * pad + raw)
            found.add(text[4 * ((pad + 2) // 3): -4])  # the part that only the canary determines
    return {s for s in found if len(s) >= 12}


_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_\-]{16,}={0,2}")


def decoded_runs(blob: bytes) -> bytes:
    """Every base64 run inside `blob`, decoded (kombu's Redis transport base64-encodes bodies)."""
    out = []
    for run in _BASE64_RUN.findall(blob):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                out.append(decode(run + b"=" * (-len(run) % 4)))
            except ValueError:
                pass
    return b"\n".join(out)


def leaks(places: dict[str, bytes], *secrets: str) -> list[str]:
    found = []
    for where, blob in places.items():
        haystack = blob + b"\n" + decoded_runs(blob)
        for secret in secrets:
            if any(s in haystack for s in spellings(secret)):
                found.append(f"{where} holds {'the PostgreSQL' if secret == PG_CANARY else 'the broker'} canary")
    return found


def test_the_scan_finds_a_canary_in_every_spelling_it_looks_for():
    secret = canary()
    for blob in (secret.encode(), quote(secret).encode(), b"x" + base64.b64encode(b"ab" + secret.encode()),
                 b'{"body": "' + base64.b64encode(b'{"password": "' + secret.encode() + b'"}') + b'"}'):
        assert leaks({"blob": blob}, secret) == ["blob holds the broker canary"]
    assert leaks({"blob": b"nothing here"}, secret) == []


# --- brokers with a canary password, and what crossed them ---------------------------------------

class RedisBroker:
    """A redis-server with the canary as `requirepass`; MONITOR (a connection of its own, via
    redis-cli) records every command sent to it."""

    def __init__(self, folder: Path) -> None:
        self.server = RedisServer(folder / "redis", password=BROKER_CANARY)
        self.capture = folder / "monitor.txt"

    def __enter__(self) -> "RedisBroker":
        self.server.__enter__()
        env = {"REDISCLI_AUTH": BROKER_CANARY, "PATH": "/usr/bin:/bin"}
        self.monitor = subprocess.Popen(["redis-cli", "-p", str(self.server.port), "monitor"],
                                        stdout=self.capture.open("wb"), stderr=subprocess.STDOUT, env=env)
        return self

    @property
    def endpoint(self) -> str:
        return f"redis://:{BROKER_CANARY}@127.0.0.1:{self.server.port}/0"

    def crossed(self) -> bytes:
        time.sleep(0.5)
        return self.capture.read_bytes()

    def at_rest(self) -> bytes:
        client = self.server.client()
        values = []
        for key in client.scan_iter():
            kind = client.type(key)
            if kind == b"string":
                values.append(client.get(key))
            elif kind == b"list":
                values.extend(client.lrange(key, 0, -1))
            elif kind == b"hash":
                values.extend(k + b"=" + v for k, v in client.hgetall(key).items())
            elif kind in (b"set", b"zset"):
                values.extend(client.zrange(key, 0, -1) if kind == b"zset" else client.smembers(key))
            values.append(key)
        return b"\n".join(values)

    def __exit__(self, *exc: object) -> None:
        self.monitor.terminate()
        self.monitor.wait(timeout=10)
        self.server.__exit__(*exc)


def rabbitmqctl(*args: str, stdin: str | None = None) -> None:
    subprocess.run(["rabbitmqctl", *args], input=stdin, text=True, check=True, capture_output=True, timeout=60)


class RabbitBroker:
    """A vhost and a user (canary password) of the test's own on the machine's RabbitMQ, with
    the firehose tracer on: a copy of every message published or delivered in the vhost lands
    in a capture queue bound to `amq.rabbitmq.trace`."""

    def __init__(self, folder: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.vhost, self.user = f"sage_canary_{tag}", f"sage_canary_{tag}"

    def __enter__(self) -> "RabbitBroker":
        try:
            rabbitmqctl("add_vhost", self.vhost)
        except (OSError, subprocess.CalledProcessError) as exc:
            pytest.skip(f"rabbitmqctl cannot manage this machine's RabbitMQ ({exc}); the RabbitMQ variant "
                        "needs it to create a user with the canary password and a vhost")
        rabbitmqctl("add_user", self.user, stdin=BROKER_CANARY)  # the password on stdin, not in argv
        rabbitmqctl("set_permissions", "-p", self.vhost, self.user, ".*", ".*", ".*")
        rabbitmqctl("trace_on", "-p", self.vhost)
        with self._channel() as channel:
            channel.queue_declare("capture", durable=False, auto_delete=False)
            channel.queue_bind("capture", "amq.rabbitmq.trace", "#")
        return self

    @contextlib.contextmanager
    def _channel(self):
        import amqp

        conn = amqp.Connection("127.0.0.1:5672", userid=self.user, password=BROKER_CANARY,
                               virtual_host=self.vhost)
        conn.connect()
        try:
            yield conn.channel()
        finally:
            conn.close()

    @property
    def endpoint(self) -> str:
        return f"amqp://{self.user}:{BROKER_CANARY}@127.0.0.1:5672/{self.vhost}"

    def crossed(self) -> bytes:
        time.sleep(0.5)
        messages = []
        with self._channel() as channel:
            while (message := channel.basic_get("capture", no_ack=True)) is not None:
                messages.append(repr(message.properties).encode() + b"\n" + bytes(message.body))
        assert messages, "the firehose captured nothing"
        return b"\n".join(messages)

    def at_rest(self) -> bytes:
        return b""  # the vhost's queues were drained by the worker; the capture queue is read above

    def __exit__(self, *exc: object) -> None:
        for args in (("trace_off", "-p", self.vhost), ("delete_vhost", self.vhost), ("delete_user", self.user)):
            try:
                rabbitmqctl(*args)
            except subprocess.CalledProcessError:
                pass


# --- the run ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pg_role(module_schema):
    """A PostgreSQL role whose password is the canary, allowed to write the module's schema."""
    role = f"canary_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(PG_CANARY)))
        conn.execute(sql.SQL("GRANT CREATE ON DATABASE test TO {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(sql.Identifier(module_schema),
                                                                             sql.Identifier(role)))
    yield role
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture(scope="module")
def home(tmp_path_factory, module_schema, pg_role):
    with scoped_env():
        home = build_home(tmp_path_factory.mktemp("canary") / "sage_home", module_schema)
        with session_scope(home) as session:  # the casilla's connection now logs in as the canary role
            add_secret(session, "pgtest", "postgresql", host="127.0.0.1", port=5432, user=pg_role,
                       database="test", password=PG_CANARY, home=home, replace=True)
        apply(home)
        yield home


def dagster_records(run_ids: list[str]) -> bytes:
    """Runs (config, tags) and every event record of them, serialized as Dagster stores them."""
    instance = DagsterInstance.get()
    try:
        out = [serialize_value(instance.get_run_by_id(r)) for r in run_ids]
        out += [serialize_value(record) for r in run_ids for record in instance.all_logs(r)]
    finally:
        instance.dispose()
    return "\n".join(out).encode()


def files_under(*roots: Path) -> dict[str, bytes]:
    paths = {p.resolve() for root in roots for p in root.rglob("*") if p.is_file()}
    return {str(p): p.read_bytes() for p in sorted(paths)}


def process_places(pids: set[int]) -> dict[str, bytes]:
    places = {}
    for pid in pids:
        for part in ("cmdline", "environ"):
            try:
                places[f"/proc/{pid}/{part} (worker)"] = Path(f"/proc/{pid}/{part}").read_bytes()
            except (FileNotFoundError, ProcessLookupError):
                pass
    return places


@pytest.mark.parametrize("broker_kind", ["redis", "rabbitmq"])
def test_canary_passwords_of_a_database_and_a_broker_are_nowhere_after_remote_runs(
        broker_kind, home, workers, schema, pg_role, tmp_path, capfd, figures):
    broker_cls = RedisBroker if broker_kind == "redis" else RabbitBroker
    with broker_cls(tmp_path) as broker:
        name = server_name("canary")
        add_remote(home, name, endpoint=broker.endpoint)
        with session_scope(home) as session:  # the canaries really are what the worker decrypts
            assert secret_payload(session, get_secret(session, "pgtest").id, home=home) == {"password": PG_CANARY}
            assert broker_url(session, get_server(session, name), home=home) == broker.endpoint
        worker = workers(name)
        good = materialize_on(home, worker, name, tmp_path / "good", "grande", 31, schema)

        with psycopg.connect(PG_URL, autocommit=True) as conn:  # the next connection attempt fails
            conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(pg_role)))
        try:
            failing, _ = make_upload(home, tmp_path / "bad", {"grande2": 2 * MB}, seed=32)
            bad = materialize_upload(CASILLA, failing, home=home, tables=["grande2"], server=name)
        finally:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(pg_role)))
        assert not bad.success and any("not permitted to log in" in e for e in bad.errors), bad.errors

        # What an operator asks the workers, over the same broker.
        assert sage_main(["servers", "list"]) == 0 and sage_main(["servers", "status"]) == 0
        app = server_app(name, broker.endpoint)
        try:
            inspector = app.control.inspect(timeout=2.0)
            replies = repr((inspector.stats(), inspector.conf(), inspector.active())).encode()
        finally:
            app.close()
        assert name in replies.decode()

        pids = worker.pids()
        places = {"broker traffic": broker.crossed(), "broker contents": broker.at_rest(), **process_places(pids)}
        worker.kill()
    output = capfd.readouterr()
    places.update({
        **files_under(home.root, home.dagster_home),
        "Dagster runs, tags, run config and event records": dagster_records([good.run_id, bad.run_id]),
        "worker log": worker.log.read_bytes(),
        "stdout / stderr of the run's process": (output.out + output.err).encode(),
        "run errors": "\n".join(good.errors + bad.errors).encode(),
        "inspect stats / conf / active replies": replies,
    })
    assert b"execute_plan" in places["broker traffic"]  # the step's own message was captured
    files = [p for p in places if p.startswith("/") and not p.startswith("/proc")]
    found = leaks(places, PG_CANARY, BROKER_CANARY)
    figures(f"{broker_kind}: {len(places)} places scanned for 2 canaries - {len(files)} files "
            f"({sum(len(places[f]) for f in files):,} bytes) under SAGE_HOME/DAGSTER_HOME, "
            f"{len(places['broker traffic']):,} bytes of broker traffic, "
            f"{sum(1 for p in places if p.startswith('/proc'))} /proc entries of {len(pids)} worker processes; "
            f"found in {len(found)}")
    assert found == []
