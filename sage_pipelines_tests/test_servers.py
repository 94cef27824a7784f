"""`sage servers`: the registry, the broker password kept out of everything shown, instance limits."""

from __future__ import annotations

import io
import sqlite3

import pytest
import yaml

from sage_pipelines.cli import main as sage_main
from sage_pipelines.demo import DEMO_DIR
from sage_pipelines.settings import SageHome

PASSWORD = "br0ker-S3cret!"


@pytest.fixture
def home(sage_home) -> SageHome:
    from sage_pipelines.services.home import init_home

    return init_home(SageHome(sage_home))


def run_cli(argv, capsys, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = sage_main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_local_always_exists(home, capsys):
    code, out, _ = run_cli(["servers", "list"], capsys)
    assert code == 0
    assert out.splitlines()[1].split()[:3] == ["local", "local", "(in-process)"]


def test_add_list_remove_a_remote_server(home, capsys):
    code, out, err = run_cli(["servers", "add", "big1", "--type", "remote", "--endpoint",
                              "redis://127.0.0.1:6379/3", "--capacity", "2", "--priority", "5"], capsys)
    assert code == 0, err
    _, out, _ = run_cli(["servers", "list"], capsys)
    row = next(line.split() for line in out.splitlines() if line.startswith("big1"))
    assert row[:5] == ["big1", "remote", "redis://127.0.0.1:6379/3", "2", "5"]
    code, out, _ = run_cli(["servers", "remove", "big1"], capsys)
    assert code == 0
    _, out, _ = run_cli(["servers", "list"], capsys)
    assert "big1" not in out


def test_broker_password_is_encrypted_and_never_shown(home, capsys, monkeypatch):
    code, out, err = run_cli(["servers", "add", "r1", "--endpoint", "amqp://sage@127.0.0.1:5672//",
                              "--password-stdin"], capsys, stdin=PASSWORD + "\n", monkeypatch=monkeypatch)
    assert code == 0, err
    code2, out2, err2 = run_cli(["servers", "add", "r2", "--endpoint",
                                 f"redis://:{PASSWORD}@127.0.0.1:6379/0"], capsys)
    assert code2 == 0, err2
    _, listed, _ = run_cli(["servers", "list"], capsys)
    for text in (out, err, out2, err2, listed):
        assert PASSWORD not in text
    assert "amqp://sage:***@127.0.0.1:5672//" in listed and "redis://:***@127.0.0.1:6379/0" in listed
    db = sqlite3.connect(home.root / "sage.db")
    try:
        dump = "\n".join(db.iterdump())
        endpoints = dict(db.execute("SELECT nombre, endpoint FROM materialization_servers").fetchall())
    finally:
        db.close()
    assert PASSWORD not in dump
    assert endpoints == {"local": None, "r1": "amqp://sage@127.0.0.1:5672//", "r2": "redis://127.0.0.1:6379/0"}
    from sage_pipelines.services.servers import broker_url, get_server
    from sage_pipelines.store.db import session_scope

    with session_scope(home) as session:
        assert broker_url(session, get_server(session, "r1"), home=home) == \
            "amqp://sage:br0ker-S3cret%21@127.0.0.1:5672//"


@pytest.mark.parametrize("argv, message", [
    (["servers", "add", "x"], "needs --endpoint"),
    (["servers", "add", "x", "--endpoint", "http://h/"], "must be a broker URL"),
    (["servers", "add", "x y", "--endpoint", "redis://h/0"], "server name"),
    (["servers", "add", "x", "--endpoint", "redis://h/0", "--capacity", "0"], "capacity must be at least 1"),
    (["servers", "add", "local", "--endpoint", "redis://h/0"], "always exists"),
    (["servers", "remove", "local"], "cannot be removed"),
    (["servers", "remove", "ghost"], "unknown server 'ghost'"),
])
def test_mistakes_are_one_line_errors(home, capsys, argv, message):
    code, _, err = run_cli(argv, capsys)
    assert code == 1
    assert message in err and len(err.strip().splitlines()) == 1


def test_an_added_server_limits_its_runs_in_the_dagster_run_queue(home, capsys):
    run_cli(["servers", "add", "big1", "--endpoint", "redis://127.0.0.1:6379/3", "--capacity", "3"], capsys)
    config = yaml.safe_load((home.dagster_home / "dagster.yaml").read_text())
    limits = config["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert {"key": "sage/server", "value": "big1", "limit": 3} in limits
    run_cli(["servers", "remove", "big1"], capsys)
    config = yaml.safe_load((home.dagster_home / "dagster.yaml").read_text())
    limits = config["run_coordinator"]["config"].get("tag_concurrency_limits", [])
    assert [x for x in limits if x["key"] == "sage/server"] == []  # the server's limit went with it
    for writer in ("sage/file_writer", "sage/table_writer"):  # the writer-scope limits stay
        assert {"key": writer, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


PINNED = """
materialization:
  name: pinned
  casilla: ventas_semanales
  server: {server}
  destinations:
    warehouse: {{connection: warehouse}}
  tables:
    clientes: {{strategy: append}}
"""


def test_a_server_a_materialization_is_pinned_to_cannot_be_removed(home, capsys, tmp_path):
    spec = tmp_path / "pinned.yaml"
    run_cli(["servers", "add", "big1", "--endpoint", "redis://127.0.0.1:6379/3"], capsys)
    run_cli(["casillas", "add", "ventas_semanales", "--yaml", str(DEMO_DIR / "ventas_semanales.yaml")], capsys)
    spec.write_text(PINNED.format(server="big1"), encoding="utf-8")
    assert run_cli(["materializations", "apply", str(spec)], capsys)[0] == 0
    code, _, err = run_cli(["servers", "remove", "big1"], capsys)
    assert code == 1
    assert err == ("sage: error: server 'big1' is pinned by materialization(s) pinned (`server: big1`); "
                   "apply them with another server first\n")
    assert "big1" in run_cli(["servers", "list"], capsys)[1]
    spec.write_text(PINNED.format(server="auto"), encoding="utf-8")
    run_cli(["materializations", "apply", str(spec)], capsys)
    assert run_cli(["servers", "remove", "big1"], capsys)[0] == 0  # unpinned: it goes


def test_shared_postgres_storage_is_written_by_reference(home, monkeypatch):
    from sage_pipelines.servers.instance import configure_instance_yaml

    monkeypatch.setenv("SAGE_DAGSTER_PG_URL", f"postgresql://sage:{PASSWORD}@db:5432/dagster")
    path = home.dagster_home / "dagster.yaml"
    configure_instance_yaml(path, home)
    text = path.read_text()
    assert PASSWORD not in text
    assert yaml.safe_load(text)["storage"] == {"postgres": {"postgres_url": {"env": "SAGE_DAGSTER_PG_URL"}}}
    monkeypatch.delenv("SAGE_DAGSTER_PG_URL")
    configure_instance_yaml(path, home)
    assert "storage" not in yaml.safe_load(path.read_text())


def test_status_without_a_worker_reports_the_server_offline(home, capsys):
    run_cli(["servers", "add", "idle1", "--endpoint", "redis://127.0.0.1:6379/5"], capsys)
    run_cli(["servers", "add", "nobroker", "--endpoint", "redis://127.0.0.1:6399/0"], capsys)
    code, out, _ = run_cli(["servers", "status"], capsys)
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["local"][2] == "online"
    assert rows["idle1"][2] == "offline"
    assert rows["nobroker"][2] == "broker_down" and "broker unreachable" in out


def test_the_instance_uses_postgresql_storage_when_asked(home, monkeypatch, pg_database):
    """Remote workers share the run's Dagster instance: with SAGE_DAGSTER_PG_URL it is PostgreSQL."""
    from dagster import DagsterInstance

    from sage_pipelines.servers.instance import ensure_dagster_home

    monkeypatch.setenv("SAGE_DAGSTER_PG_URL", pg_database)
    ensure_dagster_home(home)
    instance = DagsterInstance.get()
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert instance.get_runs() == []
    finally:
        instance.dispose()
