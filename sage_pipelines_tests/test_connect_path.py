"""One connect path: `sage connections test` connects through the very code a write connects
with, so a connection that passes its test can be written to, and one that a write could not use
fails its test with the words the write would have given.

The MariaDB case needs a server that refuses LOAD DATA LOCAL INFILE. `local_infile` is a global
server variable (turning it off on the shared server would break every other test running), so
this module starts a MariaDB server of its own, on a free port with its own data directory,
started with `--local-infile=0` (MySQL 8's default).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pymysql
import pytest

from sage_pipelines.cli import main
from sage_pipelines.destinations.base import Strategy, TableSpec
from sage_pipelines.destinations.registry import open_destination
from sage_pipelines.errors import DestinationError
from sage_pipelines.services.connections import connection_settings, test_connection
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines.types import Column, ColumnType, Kind
from sage_pipelines_tests.secrets_support import add_secret_cli, home  # noqa: F401 (fixture)

SPEC = TableSpec(name="ventas", strategy=Strategy.APPEND,
                 columns=(Column("id", ColumnType(Kind.INTEGER)), Column("nombre", ColumnType(Kind.TEXT))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def no_local_infile_server(tmp_path_factory) -> int:
    """A MariaDB server of this module's own whose `local_infile` is OFF; its port."""
    root = tmp_path_factory.mktemp("mariadb")
    data = root / "data"
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                    "--auth-root-authentication-method=normal", "--skip-test-db"],
                   check=True, capture_output=True, timeout=120)
    port = free_port()
    server = subprocess.Popen(
        [shutil.which("mariadbd") or "/usr/sbin/mariadbd", "--no-defaults", f"--datadir={data}", f"--port={port}",
         "--bind-address=127.0.0.1", f"--socket={root / 'mysqld.sock'}", f"--pid-file={root / 'mysqld.pid'}",
         "--user=root", "--local-infile=0", "--innodb-buffer-pool-size=16M", "--skip-log-bin",
         f"--log-error={root / 'error.log'}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=port, user="root", password="").close()
                break
            except pymysql.OperationalError:
                assert server.poll() is None and time.monotonic() < deadline, (root / "error.log").read_text()
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=60)


def sql(port: int, statement: str, *params) -> list[tuple]:
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="", autocommit=True,
                           local_infile=True)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return list(cur.fetchall())
    finally:
        conn.close()


def probe(home: SageHome, name: str, timeout: int = 5) -> tuple[bool, float | None, str]:
    with session_scope(home) as session:
        return test_connection(session, name, home=home, timeout=timeout)


def first_write(home: SageHome, name: str) -> str:
    """The message of the first write through connection `name` (it must fail)."""
    with session_scope(home) as session:
        destination = open_destination(connection_settings(session, name, home=home))
    rows = pa.table({"id": [1], "nombre": ["a"]}, schema=SPEC.arrow_schema).to_reader()
    with pytest.raises(DestinationError) as info:
        destination.write(rows, SPEC, "u1")
    return str(info.value)


def test_a_server_that_refuses_load_data_local_fails_the_test_with_the_words_of_the_first_write(
        home, monkeypatch, no_local_infile_server, tmp_path, capsys):
    port = no_local_infile_server
    sql(port, "CREATE DATABASE IF NOT EXISTS ventas")
    data = tmp_path / "one.tsv"
    data.write_text("1\ta\n")
    sql(port, "CREATE TABLE IF NOT EXISTS ventas.raw (id INT, nombre TEXT)")
    with pytest.raises(pymysql.OperationalError, match="local infile"):  # the server really refuses it
        sql(port, "LOAD DATA LOCAL INFILE %s INTO TABLE ventas.raw", str(data))
    assert add_secret_cli(monkeypatch, "strict", "mysql", None, "--host", "127.0.0.1", "--port", str(port),
                          "--user", "root", "--database", "ventas") == 0
    assert main(["connections", "add", "strict", "--secret", "strict"]) == 0
    capsys.readouterr()

    assert main(["connections", "test", "strict"]) == 1
    err = capsys.readouterr().err
    ok, latency, reason = probe(home, "strict")
    assert (ok, latency) == (False, None)
    assert reason.startswith("bulk load: ") and "local_infile" in reason and "SET GLOBAL local_infile = 1" in reason
    assert reason in err and "\n" not in err.rstrip("\n")

    assert first_write(home, "strict") == f"connection 'strict' (mysql): cannot connect: {reason}"
    assert sql(port, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'ventas'") \
        == [("raw",)]  # the write created nothing before failing


def test_a_duckdb_file_another_process_holds_fails_the_test_with_the_words_of_the_write(home, monkeypatch, tmp_path):
    """A reader holding the file (a BI tool, the DuckDB CLI) blocks every writer; the old test opened
    the file read-only, which such a reader allows, and passed."""
    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); c.execute('CREATE TABLE t(x INT)'); "
                               "c.close(); c = duckdb.connect(sys.argv[1], read_only=True); print('held', flush=True); "
                               "sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert add_secret_cli(monkeypatch, "duck", "duckdb", None, "--database", str(path),
                              "--option", "lock_timeout=1") == 0
        assert main(["connections", "add", "duckconn", "--secret", "duck"]) == 0
        ok, _, reason = probe(home, "duckconn", timeout=1)
        assert not ok and reason.startswith("database: ") and "lock" in reason, reason
        assert first_write(home, "duckconn") == f"connection 'duckconn' (duckdb): cannot connect: {reason}"
    finally:
        holder.communicate("", timeout=30)
    assert probe(home, "duckconn", timeout=1)[0]  # once the reader is gone, test and write both work


def test_a_duckdb_file_in_a_missing_directory_fails_the_test_and_the_write_alike(home, monkeypatch, tmp_path):
    assert add_secret_cli(monkeypatch, "duck", "duckdb", None, "--database", str(tmp_path / "nope" / "w.duckdb")) == 0
    assert main(["connections", "add", "duckconn", "--secret", "duck"]) == 0
    ok, _, reason = probe(home, "duckconn")
    assert not ok and reason.startswith("database: ")
    assert first_write(home, "duckconn") == f"connection 'duckconn' (duckdb): cannot connect: {reason}"
    assert not (tmp_path / "nope").exists()


def test_a_connection_that_passes_its_test_can_be_written_to(home, monkeypatch, mysql_database):
    assert add_secret_cli(monkeypatch, "maria", "mysql", None, "--host", "127.0.0.1", "--port", "3306",
                          "--user", "root", "--database", mysql_database) == 0
    assert main(["connections", "add", "maria", "--secret", "maria"]) == 0
    assert probe(home, "maria")[0]
    with session_scope(home) as session:
        destination = open_destination(connection_settings(session, "maria", home=home))
    rows = pa.table({"id": [1], "nombre": ["a"]}, schema=SPEC.arrow_schema).to_reader()
    assert destination.write(rows, SPEC, "u1").inserted == 1
