"""The Dagster UI's GraphQL API serves our code location (assets, groups, partitions), and `sage dev`
starts and stops the whole of it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from sage_pipelines_tests.orchestration_fixtures import CASILLA, demo_home, land_week, running_webserver  # noqa: F401


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def webserver(demo_home):
    with running_webserver(demo_home, free_port(), timeout=90) as port:
        yield port


@pytest.mark.slow
def test_graphql_lists_the_casilla_assets_in_their_group(webserver):
    data = graphql(webserver, "{ assetNodes { assetKey { path } groupName partitionDefinition { name } } }")
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["data"]["assetNodes"]}
    for table in ("dim_clientes", "dim_productos", "fact_ventas"):
        node = nodes[f"warehouse/{CASILLA}/{table}"]
        assert node["groupName"] == CASILLA
        assert node["partitionDefinition"]["name"] == f"uploads_{CASILLA}"


def session_processes(sid: int) -> dict[int, str]:
    """pid -> command line of every live (not zombie) process in session `sid`."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found[int(stat.parent.name)] = cmdline
    return found


def port_is_free(port: int) -> bool:
    """Whether a new server could listen on `port` (as the webserver does, past TIME_WAIT connections)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def sage_dev(home) -> Iterator[tuple[subprocess.Popen, int]]:
    """`sage dev` on a free port, in a session of its own; yields (process, port) once the UI
    answers. Afterwards no process of that session is left, whatever the test did."""
    port = free_port()
    env = {**os.environ, "SAGE_HOME": str(home.root)}
    env.pop("DAGSTER_HOME", None)  # `sage dev` sets it to $SAGE_HOME/dagster itself
    proc = subprocess.Popen([sys.executable, "-m", "sage_pipelines.cli", "dev", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                graphql(port, "{ assetNodes { assetKey { path } } }")
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "sage dev did not serve the UI"
                time.sleep(1)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                pass
        for pid in session_processes(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
def test_sage_dev_serves_the_ui_on_this_sage_home(demo_home):
    with sage_dev(demo_home) as (_proc, port):
        data = graphql(port, "{ assetNodes { assetKey { path } } }")
    keys = {"/".join(n["assetKey"]["path"]) for n in data["data"]["assetNodes"]}
    assert f"warehouse/{CASILLA}/fact_ventas" in keys


@pytest.mark.slow
def test_under_sage_dev_a_new_upload_is_materialized_by_the_sensor_and_the_daemon(demo_home, tmp_path):
    """The whole unattended path: an upload lands, the daemon's landing sensor requests a run,
    the queued run is launched in its own process and writes every table of the upload."""
    from sqlalchemy import select

    from sage_pipelines.store.db import session_scope
    from sage_pipelines.store.models import MaterializationHistory

    with sage_dev(demo_home):
        upload = land_week(demo_home, tmp_path, 1, "daemon-w1")
        deadline = time.monotonic() + 150
        written: list = []
        while time.monotonic() < deadline and len(written) < 4:
            time.sleep(3)
            with session_scope(demo_home) as session:
                written = list(session.scalars(select(MaterializationHistory).where(
                    MaterializationHistory.upload_id == upload)))
    assert sorted((h.tabla, h.estado) for h in written) == [
        ("dim_clientes", "succeeded"), ("dim_productos", "succeeded"), ("fact_ventas", "succeeded"),
        (f"{CASILLA}.fact_ventas", "succeeded")]
    assert all(h.dagster_run_id for h in written)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stopping_sage_dev_by_its_pid_stops_the_webserver_daemon_and_code_server(demo_home, signum):
    with sage_dev(demo_home) as (proc, port):
        running = " | ".join(session_processes(proc.pid).values())
        for part in ("dagster_webserver", "dagster._daemon", "grpc"):  # the webserver, the daemon, a code server
            assert part in running, running
        os.kill(proc.pid, signum)  # sage dev alone, by its PID
        proc.wait(120)
        assert session_processes(proc.pid) == {}  # it returned only after all of them had ended
        assert port_is_free(port)
