"""A database password never reaches Dagster: not its event log, run storage, metadata or logs."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

from sage_pipelines.cli import main as sage_main
from sage_pipelines.orchestration.run import materialize_upload
from sage_pipelines_tests.conftest import PG_URL
from sage_pipelines_tests.orchestration_fixtures import CASILLA, demo_home, land_week  # noqa: F401
from sage_pipelines_tests.secrets_support import add_secret_cli, canary


def files_containing(root: Path, needle: str) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and path.name != "secret.key" and needle.encode() in path.read_bytes():
            hits.append(str(path))
    return hits


def test_a_canary_password_never_reaches_dagster_storage_or_logs(demo_home, pg_schema, tmp_path,
                                                                 monkeypatch, capsys, caplog):
    password = canary()
    caplog.set_level(logging.DEBUG)
    assert add_secret_cli(monkeypatch, "pg_canary", "postgresql", password, "--host", "127.0.0.1",
                          "--port", "5432", "--user", "postgres", "--database", "test") == 0
    assert sage_main(["connections", "add", "analytics", "--secret", "pg_canary", "--schema", pg_schema]) == 0
    assert add_secret_cli(monkeypatch, "pg_broken", "postgresql", password, "--host", "127.0.0.1",
                          "--port", "1", "--user", "postgres", "--database", "test") == 0
    assert sage_main(["connections", "add", "broken", "--secret", "pg_broken"]) == 0
    spec = tmp_path / "pg.yaml"
    spec.write_text(f"""
materialization:
  name: ventas_pg
  casilla: {CASILLA}
  destinations:
    analytics: {{connection: analytics}}
    broken: {{connection: broken}}
  tables:
    productos:
      table: dim_productos_pg
      primary_key: [codigo_producto]
      strategy: upsert
""", encoding="utf-8")
    assert sage_main(["materializations", "apply", str(spec)]) == 0
    upload = land_week(demo_home, tmp_path, 1)
    good = materialize_upload(CASILLA, upload, destinations=["analytics"], home=demo_home)
    assert good.success, good.errors
    with psycopg.connect(PG_URL) as conn:
        assert conn.execute(f'SELECT count(*) FROM "{pg_schema}".dim_productos_pg').fetchone() == (80,)
    bad = materialize_upload(CASILLA, upload, destinations=["broken"], home=demo_home)
    assert not bad.success and any("connection 'broken'" in e.split(": ", 1)[1] for e in bad.errors), bad.errors
    assert not any(password in e for e in bad.errors)
    assert files_containing(demo_home.root, password) == []  # store, Dagster event log and run storage
    captured = capsys.readouterr()
    assert password not in captured.out + captured.err
    assert password not in caplog.text
