"""Connections test for real against PostgreSQL, MariaDB and DuckDB, and say what is wrong."""

from __future__ import annotations

import logging

import duckdb
import psycopg
import pymysql
import pytest
from sqlalchemy import select

from sage_pipelines.cli import main
from sage_pipelines.errors import ConfigError
from sage_pipelines.settings import SageHome
from sage_pipelines.services.connections import (
    add_connection, connection_settings, get_connection, test_connection)
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.models import AuditLog
from sage_pipelines.services.secrets import add_secret
from sage_pipelines_tests.conftest import MYSQL_HOST, PG_URL, unique_name
from sage_pipelines_tests.secrets_support import add_secret_cli, canary, home  # noqa: F401 (fixture)


@pytest.fixture
def pg_role() -> tuple[str, str]:
    """A PostgreSQL login role with a password, dropped afterwards."""
    name, password = unique_name("sage_role"), canary()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            psycopg.sql.Identifier(name), psycopg.sql.Literal(password)))
    yield name, password
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP ROLE IF EXISTS {}").format(psycopg.sql.Identifier(name)))


@pytest.fixture
def mysql_user(mysql_database: str) -> tuple[str, str, str]:
    """A MariaDB user with a password and rights on its own database, dropped afterwards."""
    name, password = unique_name("u")[:30], canary()
    conn = pymysql.connect(host=MYSQL_HOST, user="root", password="", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (name, password))
            cur.execute(f"GRANT ALL ON `{mysql_database}`.* TO %s@'%%'", (name,))
        yield name, password, mysql_database
        with conn.cursor() as cur:
            cur.execute("DROP USER IF EXISTS %s@'%%'", (name,))
    finally:
        conn.close()


def pg_connection(monkeypatch, role, port: int = 5432, host: str = "127.0.0.1", *flags: str) -> str:
    user, password = role
    assert add_secret_cli(monkeypatch, "pg", "postgresql", password, "--host", host, "--port", str(port),
                          "--user", user, "--database", "test", *flags) == 0
    assert main(["connections", "add", "pgconn", "--secret", "pg"]) == 0
    return "pgconn"


def mysql_connection(monkeypatch, user, password, database, *flags: str) -> str:
    assert add_secret_cli(monkeypatch, "my", "mysql", password, "--host", MYSQL_HOST, "--port", "3306",
                          "--user", user, "--database", database, *flags) == 0
    assert main(["connections", "add", "myconn", "--secret", "my"]) == 0
    return "myconn"


def run_test(home: SageHome, name: str) -> tuple[bool, float | None, str]:
    with session_scope(home) as session:
        return test_connection(session, name, home=home, timeout=5)


def recorded(home: SageHome, name: str):
    with session_scope(home) as session:
        return get_connection(session, name)


def test_postgresql_connection_test_succeeds_and_records_the_outcome(home, monkeypatch, pg_role, capsys):
    pg_connection(monkeypatch, pg_role)
    capsys.readouterr()
    assert main(["connections", "test", "pgconn"]) == 0
    assert "pgconn: ok" in capsys.readouterr().out
    row = recorded(home, "pgconn")
    assert row.estado_conexion == "ok" and row.ultimo_test is not None
    assert row.latencia_ms > 0 and row.mensaje_error is None


def test_postgresql_wrong_port_is_reported_as_port(home, monkeypatch, pg_role, capsys):
    pg_connection(monkeypatch, pg_role, port=1)
    capsys.readouterr()
    assert main(["connections", "test", "pgconn"]) == 1
    err = capsys.readouterr().err
    assert "port: nothing accepts connections on port 1" in err
    row = recorded(home, "pgconn")
    assert row.estado_conexion == "error" and row.ultimo_test is not None and row.latencia_ms is None
    assert row.mensaje_error.startswith("port:")


def test_postgresql_unknown_database_of_the_connection_is_reported_as_database(home, monkeypatch, pg_role):
    pg_connection(monkeypatch, pg_role)
    assert main(["connections", "add", "nodb", "--secret", "pg", "--database", "no_such_db_x"]) == 0
    ok, latency, reason = run_test(home, "nodb")
    assert not ok and latency is None
    assert reason.startswith("database:") and "no_such_db_x" in reason


def test_postgresql_unknown_host_is_reported_as_host(home, monkeypatch, pg_role):
    pg_connection(monkeypatch, pg_role, 5432, "no-such-host.invalid")
    ok, _, reason = run_test(home, "pgconn")
    assert not ok and reason.startswith("host:") and "no-such-host.invalid" in reason


def test_postgresql_tls_options_reach_the_driver(home, monkeypatch, pg_role):
    # The test server runs without TLS, so requiring it must fail for a TLS reason.
    pg_connection(monkeypatch, pg_role, 5432, "127.0.0.1", "--option", "sslmode=require")
    ok, _, reason = run_test(home, "pgconn")
    assert not ok and reason.startswith("TLS:")


def test_postgresql_password_is_decrypted_only_when_called(home, monkeypatch, pg_role):
    user, password = pg_role
    pg_connection(monkeypatch, pg_role)
    assert main(["connections", "add", "other", "--secret", "pg", "--database", "postgres",
                 "--schema", "ventas"]) == 0
    with session_scope(home) as session:
        settings = connection_settings(session, "other", home=home)
    assert (settings.kind, settings.host, settings.port, settings.user) == ("postgresql", "127.0.0.1", 5432, user)
    assert (settings.database, settings.schema) == ("postgres", "ventas")  # overridden by the connection
    assert password not in repr(settings)
    assert settings.password() == password


def test_mariadb_connection_test_succeeds_with_a_real_user(home, monkeypatch, mysql_user, capsys):
    user, password, database = mysql_user
    mysql_connection(monkeypatch, user, password, database)
    ok, latency, reason = run_test(home, "myconn")
    assert ok, reason
    assert latency > 0 and recorded(home, "myconn").estado_conexion == "ok"


def test_mariadb_wrong_password_is_reported_as_credentials(home, monkeypatch, mysql_user):
    user, _, database = mysql_user
    mysql_connection(monkeypatch, user, "not-the-password", database)
    ok, _, reason = run_test(home, "myconn")
    assert not ok and reason.startswith("credentials:") and user in reason


def test_mariadb_unknown_database_is_reported_as_database(home, monkeypatch, mysql_user):
    user, password, _ = mysql_user
    mysql_connection(monkeypatch, "root", "", "no_such_db_x")
    ok, _, reason = run_test(home, "myconn")
    assert not ok and reason.startswith("database:")


def test_mariadb_missing_ca_file_is_reported_as_tls(home, monkeypatch, mysql_user, tmp_path):
    user, password, database = mysql_user
    mysql_connection(monkeypatch, user, password, database, "--option", f"ssl_ca={tmp_path / 'no-ca.pem'}")
    ok, _, reason = run_test(home, "myconn")
    assert not ok and reason.startswith("TLS:")


def test_duckdb_connection_test_opens_the_file(home, monkeypatch, tmp_path):
    path = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    assert add_secret_cli(monkeypatch, "duck", "duckdb", None, "--database", str(path)) == 0
    assert main(["connections", "add", "duckconn", "--secret", "duck"]) == 0
    ok, latency, reason = run_test(home, "duckconn")
    assert ok, reason
    assert recorded(home, "duckconn").estado_conexion == "ok"


def test_duckdb_file_in_a_missing_directory_is_reported_as_database(home, monkeypatch, tmp_path):
    assert add_secret_cli(monkeypatch, "duck", "duckdb", None, "--database", str(tmp_path / "nope" / "x.duckdb")) == 0
    assert main(["connections", "add", "duckconn", "--secret", "duck"]) == 0
    ok, _, reason = run_test(home, "duckconn")
    assert not ok and reason.startswith("database:")


def test_canary_password_never_leaks_through_a_failed_connection_test(home, monkeypatch, mysql_user,
                                                                     capsys, caplog):
    user, _, database = mysql_user
    password = canary()  # the wrong password for this user
    caplog.set_level(logging.DEBUG)
    mysql_connection(monkeypatch, user, password, database)
    assert main(["connections", "test", "myconn"]) == 1
    assert main(["secrets", "show", "my"]) == 0
    assert main(["secrets", "list"]) == 0
    assert main(["connections", "list"]) == 0
    out = capsys.readouterr()
    assert "credentials:" in out.err
    row = recorded(home, "myconn")
    with session_scope(home) as session:
        audit = repr([(a.accion, a.objeto, a.detalle) for a in session.scalars(select(AuditLog))])
    everything = out.out + out.err + caplog.text + (row.mensaje_error or "") + audit
    assert password not in everything
    assert "connection.test" in audit
    for path in home.root.rglob("*"):
        if path.is_file() and path != home.secret_key_path:
            assert password.encode() not in path.read_bytes(), path


def test_a_secret_in_use_by_a_connection_cannot_be_removed(home, monkeypatch, pg_role, capsys):
    pg_connection(monkeypatch, pg_role)
    capsys.readouterr()
    assert main(["secrets", "remove", "pg"]) == 1
    assert "connection pgconn" in capsys.readouterr().err


def test_a_connection_needs_a_database_secret(home, monkeypatch):
    assert add_secret_cli(monkeypatch, "s3cred", "s3", "k", "--user", "AKIA") == 0
    with session_scope(home) as session, pytest.raises(ConfigError, match="type 's3'"):
        add_connection(session, "bad", "s3cred")


def test_an_unknown_connection_is_a_one_line_error(home, capsys):
    assert main(["connections", "test", "nope"]) == 1
    assert "unknown connection 'nope'" in capsys.readouterr().err


def test_connection_settings_of_a_secret_without_password_return_none(home):
    with session_scope(home) as session:
        add_secret(session, "trusty", "postgresql", host="127.0.0.1", user="postgres", home=home)
    assert main(["connections", "add", "trust", "--secret", "trusty", "--database", "test"]) == 0
    with session_scope(home) as session:
        assert connection_settings(session, "trust", home=home).password() is None
    assert run_test(home, "trust")[0]


def test_sqlserver_driver_errors_are_explained_too(home, monkeypatch):
    # No SQL Server runs here: pymssql really connects to a closed port and its error is mapped.
    assert add_secret_cli(monkeypatch, "ms", "sqlserver", canary(), "--host", "127.0.0.1", "--port", "1",
                          "--user", "sa") == 0
    assert main(["connections", "add", "msconn", "--secret", "ms", "--database", "master"]) == 0
    ok, _, reason = run_test(home, "msconn")
    assert not ok and reason.startswith("port:")
