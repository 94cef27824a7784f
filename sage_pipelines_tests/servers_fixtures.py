"""Helpers for tests with real Celery workers: a SAGE_HOME with a PostgreSQL destination, a
casilla with small and large files, and workers started as `sage worker NAME` subprocesses.

The warehouse is PostgreSQL (not the embedded DuckDB file) because the worker and the test
process write at the same time, and DuckDB allows one writing process.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from sage_pipelines.settings import SageHome

CASILLA = "remotos"
KB, MB = 1_000, 1_000_000
CATALOGS = ("pequeno", "grande", "grande2", "grande3")
REDIS = "redis://127.0.0.1:6379/7"
RABBIT = "amqp://guest:guest@127.0.0.1:5672//"
NAMES = ["Bodega Doña Ñuña", 'Minimarket "El Sol"', "Comercial Año Nuevo, S.A.", "Bazar O'Higgins",
         "línea uno\nlínea dos"]

_FIELDS = """
    fields:
      - {name: codigo, type: texto, required: true, unique: true}
      - {name: nombre, type: texto}
      - {name: ciudad, type: texto}
      - {name: monto, type: decimal}
      - {name: fecha, type: fecha}
      - {name: activo, type: booleano}
"""


@pytest.fixture(scope="module")
def module_schema():
    """A PostgreSQL schema shared by one test module (its worker writes there), dropped afterwards."""
    import psycopg

    from sage_pipelines_tests.conftest import PG_URL

    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(scope="module")
def home(tmp_path_factory, module_schema):
    """A SAGE_HOME for one module: the casilla, its materialization into `module_schema`."""
    with scoped_env():
        home = build_home(tmp_path_factory.mktemp("home") / "sage_home", module_schema)
        apply(home)
        yield home


@pytest.fixture
def schema(module_schema):
    """The module's schema, under the name its tests use."""
    return module_schema


@pytest.fixture
def workers(home, tmp_path):  # `home`: the importing module's fixture
    """Start workers with `workers(name)`; every one is killed when the test ends."""
    started: list[Worker] = []

    def start(name: str) -> Worker:
        worker = Worker(home, name, tmp_path / f"{name}.log")
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.kill()


def server_name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


class scoped_env:
    """Set environment variables for a module's fixtures and put the old values back after."""

    KEYS = ("SAGE_HOME", "DAGSTER_HOME", "SAGE_STORE_URL", "SAGE_WORKER_LOST_SECONDS")

    def __init__(self, **values: str) -> None:
        self.values = values

    def __enter__(self) -> "scoped_env":
        self.saved = {k: os.environ.get(k) for k in set(self.KEYS) | set(self.values)}
        os.environ.update(self.values)
        return self

    def __exit__(self, *exc: object) -> None:
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def casilla_yaml() -> str:
    catalogs = "".join(f"""
  {c}:
    name: "{c}"
    filename: "{c}.csv"
    file_format: {{type: CSV, delimiter: ",", header: true}}{_FIELDS}""" for c in CATALOGS)
    return f'sage_yaml:\n  name: "Remotos"\n  version: "1.0.0"\ncatalogs:{catalogs}\n'


def materialization_yaml(server: str = "auto") -> str:
    tables = "".join(f"""
    {c}:
      table: t_{c}
      primary_key: [codigo]
      strategy: upsert
      columns: {{monto: {{type: "decimal(14,2)"}}}}""" for c in CATALOGS)
    return f"""materialization:
  name: remotos
  casilla: {CASILLA}
  server: {server}
  destinations:
    pg: {{connection: pgconn}}
  tables:{tables}
"""


def rows_for(seed: int, target_bytes: int) -> list[tuple]:
    """Deterministic rows (leading zeros, accents, quotes, commas, newlines, NULLs, decimals)
    whose CSV is about `target_bytes` long."""
    rows, size, i = [], 0, 0
    while size < target_bytes:
        row = (f"{seed}{i:07d}", f"{NAMES[i % len(NAMES)]} #{i}", None if i % 7 == 0 else f"Ciudad {i % 13}",
               Decimal(f"{(i * 7919 + seed) % 10_000_000}.{i % 100:02d}"), dt.date(2020, 1, 1) + dt.timedelta(days=i % 2000),
               i % 3 != 0)
        rows.append(row)
        size += 60 + len(row[1])
        i += 1
    return rows


def write_csv(path: Path, rows: list[tuple]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["codigo", "nombre", "ciudad", "monto", "fecha", "activo"])
        for r in rows:
            w.writerow([r[0], r[1], "" if r[2] is None else r[2], r[3], r[4].isoformat(), "si" if r[5] else "no"])


def make_upload(home: SageHome, folder: Path, sizes: dict[str, int], seed: int = 1) -> tuple[str, dict[str, list]]:
    """Write one CSV per catalog in `sizes` (bytes) and add them as an upload; returns (id, rows)."""
    from sage_pipelines.store.db import session_scope
    from sage_pipelines.services.uploads import add_upload

    folder.mkdir(parents=True)
    data = {}
    for catalog, size in sizes.items():
        data[catalog] = rows_for(seed, size)
        write_csv(folder / f"{catalog}.csv", data[catalog])
    with session_scope(home) as session:
        return add_upload(session, home, CASILLA, folder).id, data


def build_home(root: Path, pg_schema: str) -> SageHome:
    """An initialised SAGE_HOME (exported) with the casilla and its PostgreSQL materialization."""
    from dagster import DagsterInstance

    from sage_pipelines.services.home import init_home
    from sage_pipelines.servers.instance import ensure_dagster_home
    from sage_pipelines.services.casillas import register_casilla
    from sage_pipelines.services.connections import add_connection
    from sage_pipelines.store.db import session_scope
    from sage_pipelines.services.secrets import add_secret

    os.environ["SAGE_HOME"] = str(root)
    os.environ["DAGSTER_HOME"] = str(root / "dagster")
    os.environ.pop("SAGE_STORE_URL", None)
    home = init_home(SageHome(root))
    ensure_dagster_home(home)
    DagsterInstance.get().dispose()  # create the instance's schema before any worker touches it
    with session_scope(home) as session:
        add_secret(session, "pgtest", "postgresql", host="127.0.0.1", port=5432, user="postgres",
                   database="test", home=home)
        add_connection(session, "pgconn", "pgtest", schema=pg_schema)
        register_casilla(session, CASILLA, casilla_yaml(), "remotos.yaml")
    return home


def apply(home: SageHome, server_pin: str = "auto") -> None:
    from sage_pipelines.services.materializations import apply_materialization
    from sage_pipelines.store.db import session_scope

    with session_scope(home) as session:
        apply_materialization(session, materialization_yaml(server_pin), "remotos.yaml")


def add_remote(home: SageHome, name: str, endpoint: str = REDIS, capacity: int = 1, priority: int = 0) -> None:
    from sage_pipelines.services.servers import add_server
    from sage_pipelines.store.db import session_scope

    with session_scope(home) as session:
        add_server(session, name, "remote", endpoint, capacity, priority, home=home)


def table_rows(pg_url: str, schema: str, table: str, seed: int | None = None) -> list[tuple]:
    """The table's rows in codigo order; with `seed`, only the rows `rows_for(seed, ...)` made."""
    import psycopg

    with psycopg.connect(pg_url) as conn:
        return conn.execute(f'SELECT codigo, nombre, ciudad, monto, fecha, activo FROM "{schema}"."{table}" '
                            "WHERE %s::text IS NULL OR codigo LIKE %s ORDER BY codigo",
                            (seed, f"{seed}%")).fetchall()


def materialize_on(home: SageHome, worker: "Worker", server: str, folder: Path, catalog: str, seed: int,
                   schema: str):
    """Materialize a new 2 MB upload of `catalog` pinned to `server`; check that `worker` ran the
    step and that the table holds exactly the upload's rows. Returns the run's outcome."""
    from sage_pipelines.orchestration.run import materialize_upload
    from sage_pipelines_tests.conftest import PG_URL

    upload, data = make_upload(home, folder, {catalog: 2 * MB}, seed=seed)
    outcome = materialize_upload(CASILLA, upload, home=home, tables=[catalog], server=server)
    assert outcome.success, outcome.errors
    assert outcome.assets[0].metadata["sage/pid"] in worker.pids()
    assert table_rows(PG_URL, schema, f"t_{catalog}", seed=seed) == data[catalog]
    return outcome


class Worker:
    """`sage worker NAME` as a subprocess in its own session, so a kill reaches its pool too."""

    def __init__(self, home: SageHome, name: str, log: Path) -> None:
        self.home, self.name, self.log = home, name, log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> "Worker":
        env = dict(os.environ, SAGE_HOME=str(self.home.root), DAGSTER_HOME=str(self.home.dagster_home),
                   SAGE_WORKER_HEARTBEAT_SECONDS="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "sage_pipelines.cli", "worker", self.name],
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        self.wait_online(timeout)
        return self

    def wait_online(self, timeout: float) -> None:
        from sage_pipelines.servers.health import probe_server
        from sage_pipelines.services.servers import get_server
        from sage_pipelines.store.db import session_scope

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited: {self.log.read_text()[-3000:]}")
            with session_scope(self.home) as session:
                if probe_server(session, get_server(session, self.name), self.home, timeout=0.5).online:
                    return
        raise RuntimeError(f"worker {self.name} did not come online: {self.log.read_text()[-3000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)

    def pids(self) -> set[int]:
        """The worker's main process and its pool processes."""
        out = subprocess.run(["pgrep", "-s", str(self.proc.pid)], capture_output=True, text=True).stdout
        return {int(p) for p in out.split()}
