"""Through a real `sage serve` on a free port (uvicorn, a separate process) and a real Dagster
daemon: a canary password set through the API drives a run into PostgreSQL and is found nowhere
in plaintext; a large upload is streamed to disk, not held in the server's memory."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import psycopg
import pytest

from sage_pipelines.cli import main
from sage_pipelines.demo import DEMO_DIR
from sage_pipelines.settings import SageHome
from sage_pipelines_tests.api_support import API, CASILLA, week_zip
from sage_pipelines_tests.conftest import PG_URL
from sage_pipelines_tests.secrets_support import canary

DEMO_YAML = DEMO_DIR / "ventas_semanales.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child process whose output goes to a log file; stopped with its whole process group."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def peak_rss_kb(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._out.close()


@pytest.fixture
def installation(sage_home: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[SageHome, str]:
    """`sage init`, an admin user and its token, as a new user would type them."""
    monkeypatch.delenv("DAGSTER_HOME")  # `sage serve` and the daemon use $SAGE_HOME/dagster
    assert main(["init"]) == 0
    assert main(["users", "add", "ops", "--role", "admin"]) == 0
    capsys.readouterr()
    assert main(["tokens", "create", "ops", "--expires", "1h"]) == 0
    return SageHome.from_env(), capsys.readouterr().out.strip()


@pytest.fixture
def served(installation, tmp_path):
    """`sage serve` on a free port; yields (base URL, its process, the home, an admin client)."""
    home, token = installation
    port = free_port()
    env = {**os.environ, "SAGE_HOME": str(home.root), "SAGE_DAGSTER_URL": "http://127.0.0.1:3999"}
    env.pop("DAGSTER_HOME", None)
    server = Process([sys.executable, "-m", "sage_pipelines.cli", "serve", "--port", str(port)], env,
                     tmp_path / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx2.get(f"{base}{API}/openapi.json", timeout=2).raise_for_status()
                break
            except httpx2.HTTPError:
                assert server.alive() and time.monotonic() < deadline, server.log.read_text()[-3000:]
                time.sleep(0.5)
        with httpx2.Client(base_url=base + API, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
            yield base, server, home, client
    finally:
        server.stop()


def files_containing(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and p.name != "secret.key" and needle in p.read_bytes()]


@pytest.mark.slow
def test_a_canary_password_set_through_the_api_is_found_nowhere(served, pg_schema, tmp_path):
    base, server, home, client = served
    password = canary()
    responses: list[str] = []

    def call(method: str, url: str, expect: int, **kwargs) -> dict:
        response = client.request(method, url, **kwargs)
        responses.append(response.text)
        assert response.status_code == expect, response.text
        return response.json() if response.headers.get("content-type", "").startswith("application/json") else {}

    call("POST", "/secrets", 201, json={"name": "pg", "type": "postgresql", "host": "127.0.0.1", "port": 5432,
                                        "user": "postgres", "database": "test", "password": password})
    call("POST", "/connections", 201, json={"name": "analytics", "secret": "pg", "schema": pg_schema})
    assert call("POST", "/connections/analytics/test", 200)["ok"] is True
    call("POST", "/casillas", 200, data={"name": CASILLA},
         files={"yaml": ("ventas_semanales.yaml", DEMO_YAML.read_bytes())})
    call("POST", "/materializations", 200, json={"materialization": {
        "name": "ventas_pg", "casilla": CASILLA, "destinations": {"analytics": {"connection": "analytics"}},
        "tables": {"productos": {"table": "dim_productos", "primary_key": ["codigo_producto"], "strategy": "upsert",
                                 "columns": {"precio": {"type": "decimal(12,2)"}}}}}})

    env = {**os.environ, "SAGE_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)}
    daemon = Process([str(Path(sys.executable).with_name("dagster-daemon")), "run", "-m", "sage_pipelines.definitions"], env,
                     tmp_path / "daemon.log")
    try:
        landed = call("POST", f"/casillas/{CASILLA}/uploads", 201, data={"run": "true"},
                      files={"file": ("semana.zip", week_zip(tmp_path))})
        [run] = landed["runs"]
        assert run["url"] == f"http://127.0.0.1:3999/runs/{run['run_id']}"
        deadline = time.monotonic() + 240
        state = {}
        while time.monotonic() < deadline:
            state = call("GET", f"/runs/{run['run_id']}", 200)
            if state["finished"]:
                break
            assert daemon.alive(), daemon.log.read_text()[-3000:]
            time.sleep(2)
        assert state.get("status") == "SUCCESS", (state, daemon.log.read_text()[-3000:])
    finally:
        daemon.stop()

    with psycopg.connect(PG_URL) as conn:
        count, price = conn.execute(f'SELECT count(*), min(precio) FROM "{pg_schema}".dim_productos').fetchone()
    assert count == 80 and str(price).count(".") == 1 and len(str(price).split(".")[1]) == 2
    history = call("GET", f"/history?casilla={CASILLA}", 200)
    assert [(h["table"], h["status"], h["run_id"]) for h in history] == [
        (f"{pg_schema}.dim_productos", "succeeded", run["run_id"])]
    audit = call("GET", "/audit?limit=1000", 200)
    assert any(a["action"] == "secret.add" and a["after"]["password"] == "***" for a in audit)

    needle = password.encode()
    assert files_containing(home.root, needle) == []  # the store, landing, and the Dagster instance (runs, events, logs)
    assert (home.root / "sage.db").exists() and (home.dagster_home / "history").exists()
    assert [t for t in responses if password in t] == []
    server.stop()
    assert needle not in server.log.read_bytes() and needle not in daemon.log.read_bytes()
    assert b"POST /api/v1/secrets" in server.log.read_bytes()  # the log was written, and it is clean


@pytest.mark.slow
def test_a_large_upload_is_streamed_to_disk_not_held_in_the_servers_memory(served, tmp_path):
    base, server, home, client = served
    client.post("/casillas", data={"name": CASILLA}, files={"yaml": ("v.yaml", DEMO_YAML.read_bytes())})
    small = client.post(f"/casillas/{CASILLA}/uploads", files={"file": ("semana.zip", week_zip(tmp_path))})
    assert small.status_code == 201, small.text  # warm: every module of the upload path is loaded
    big = tmp_path / "ventas.csv"
    with big.open("wb") as f:
        f.write(b"id_venta,fecha,semana,codigo_cliente,codigo_producto,cantidad,precio_unitario,total\n")
        line = b"1,2026-01-05,1,000001,P001,3,12.50,37.50\n"
        for _ in range(160):
            f.write(line * 12_500)  # 160 x 0.5 MB: 80 MB
    before = server.peak_rss_kb()
    with big.open("rb") as stream:  # httpx2 sends the file in chunks
        response = client.post(f"/casillas/{CASILLA}/uploads", files={"file": ("ventas.csv", stream)})
    assert response.status_code == 201, response.text
    grown_mb = (server.peak_rss_kb() - before) / 1024
    landed = home.upload_dir(CASILLA, response.json()["upload"]["id"]) / "ventas.csv"
    assert landed.stat().st_size == big.stat().st_size
    assert grown_mb < 25, f"the server's peak memory grew {grown_mb:.0f} MB for an 80 MB upload"
