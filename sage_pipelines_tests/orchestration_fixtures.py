"""Fixtures for Dagster-level tests: a SAGE_HOME with the demo casilla registered and applied."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from sage_pipelines.settings import SageHome

CASILLA = "ventas_semanales"


@pytest.fixture
def demo_home(sage_home: Path) -> SageHome:
    """SAGE_HOME initialised, with casilla ventas_semanales and its DuckDB materialization."""
    from sage_pipelines.services.home import init_home
    from sage_pipelines.demo import register_demo
    from sage_pipelines.servers.instance import ensure_dagster_home

    home = register_demo(init_home(SageHome(sage_home)))
    ensure_dagster_home(home)
    return home


def land_week(home: SageHome, tmp_path: Path, week: int, upload_id: str | None = None) -> str:
    """Generate the demo's week `week` and add it as an upload; returns the upload id."""
    from sage_pipelines.demo.data import write_week
    from sage_pipelines.store.db import session_scope
    from sage_pipelines.services.uploads import add_upload

    folder = write_week(tmp_path / f"week{week}_{upload_id or 'auto'}", week)
    with session_scope(home) as session:
        return add_upload(session, home, CASILLA, folder, upload_id=upload_id).id


def sensor_context(home: SageHome, instance, cursor: str | None = None):  # noqa: ANN001, ANN201
    """A sensor's evaluation context on `instance`, with the `sage_store` resource of `home`."""
    from dagster import build_sensor_context

    from sage_pipelines.orchestration.resources import STORE_RESOURCE, store_resource

    return build_sensor_context(instance=instance, cursor=cursor, resources={STORE_RESOURCE: store_resource(home)})


@contextlib.contextmanager
def running_daemon(home: SageHome, log: Path) -> Iterator[subprocess.Popen]:
    """A real `dagster-daemon run` on `home`'s instance (its own session, output to `log`), once it
    has sent the heartbeat `sage materialize` looks for; stopped with its children afterwards."""
    from dagster import DagsterInstance

    from sage_pipelines.orchestration.follow import daemon_alive

    env = {**os.environ, "SAGE_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)}
    with log.open("wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("dagster-daemon")), "run",
                                 "-m", "sage_pipelines.definitions"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            instance = DagsterInstance.from_config(str(home.dagster_home))
            try:
                while not daemon_alive(instance):
                    assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                    time.sleep(0.5)
            finally:
                instance.dispose()
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


@contextlib.contextmanager
def running_webserver(home: SageHome, port: int, timeout: float = 120) -> Iterator[int]:
    """`dagster-webserver` on this home's definitions at `port`, once it answers; stopped after."""
    env = {**os.environ, "SAGE_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)}
    proc = subprocess.Popen([sys.executable, "-m", "dagster_webserver", "-m", "sage_pipelines.definitions",
                             "-h", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"webserver did not start: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.5)
        yield port
    finally:
        proc.terminate()
        proc.wait(30)
