"""Lakes are registered with a warehouse URI and catalog; S3 keys stay encrypted until used.
`sage init` registers the built-in `warehouse` connection and `lake`."""

from __future__ import annotations

import stat

import duckdb
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from sage_pipelines.cli import main
from sage_pipelines.errors import ConfigError
from sage_pipelines.settings import SageHome
from sage_pipelines.services.home import register_builtins
from sage_pipelines.services.connections import connection_settings, list_connections, test_connection
from sage_pipelines.store.db import session_scope
from sage_pipelines.services.lakes import file_uri_path, lake_settings, list_lakes
from sage_pipelines_tests.secrets_support import add_secret_cli, canary, home  # noqa: F401 (fixture)


def test_init_creates_the_key_and_the_builtin_warehouse_connection_and_lake(home):
    assert stat.S_IMODE(home.secret_key_path.stat().st_mode) == 0o600
    with session_scope(home) as session:
        warehouse = connection_settings(session, "warehouse", home=home)
        lake = lake_settings(session, "lake", "iceberg", home=home)
    assert (warehouse.kind, warehouse.database) == ("duckdb", str(home.warehouse_path))
    assert lake.warehouse == home.lake_path.as_uri()
    assert file_uri_path(lake.warehouse) == home.lake_path and home.lake_path.is_dir()
    assert lake.catalog_uri == f"sqlite:///{home.lake_path / 'catalog.db'}"
    assert lake.credentials() == {}


def test_builtins_are_idempotent(home):
    register_builtins(home)
    assert main(["init"]) == 0
    with session_scope(home) as session:
        assert [c.nombre for c in list_connections(session)] == ["warehouse"]
        assert [lake.nombre for lake in list_lakes(session)] == ["lake"]


def test_builtin_warehouse_connection_tests_ok_on_its_duckdb_file(home):
    with session_scope(home) as session:
        ok, _, reason = test_connection(session, "warehouse", home=home)
    assert ok, reason
    with duckdb.connect(str(home.warehouse_path)) as con:  # a real, writable DuckDB file
        assert con.execute("SELECT 42").fetchone() == (42,)


def test_builtin_lake_catalog_uri_opens_a_real_iceberg_sql_catalog(home):
    with session_scope(home) as session:
        lake = lake_settings(session, "lake", "iceberg", home=home)
    catalog = SqlCatalog("lake", uri=lake.catalog_uri, warehouse=lake.warehouse)
    catalog.create_namespace("probe")
    assert ("probe",) in catalog.list_namespaces()
    assert (home.lake_path / "catalog.db").exists()


def test_lakes_add_file_lake_creates_its_directory_and_lists_it(home, tmp_path, capsys):
    uri = (tmp_path / "mylake").as_uri()
    assert main(["lakes", "add", "local", "--warehouse", uri, "--option", "write.format=parquet"]) == 0
    assert (tmp_path / "mylake").is_dir()
    capsys.readouterr()
    assert main(["lakes", "list"]) == 0
    out = capsys.readouterr().out
    assert "local" in out and uri in out and "write.format=parquet" in out
    with session_scope(home) as session:
        settings = lake_settings(session, "local", "delta", home=home)
    assert settings.catalog_uri == f"sqlite:///{tmp_path / 'mylake' / 'catalog.db'}"
    assert settings.options == {"write.format": "parquet"}


def test_s3_lake_keys_are_encrypted_and_decrypted_per_format_only_when_called(home, monkeypatch, capsys):
    secret_key = canary()
    assert add_secret_cli(monkeypatch, "minio", "s3", secret_key, "--user", "AKIAMINIOKEY",
                          "--option", "region=us-east-1", "--option", "endpoint=http://127.0.0.1:9000") == 0
    assert main(["lakes", "add", "s3lake", "--warehouse", "s3://bucket/warehouse", "--secret", "minio",
                 "--catalog-uri", "postgresql+psycopg://catalog@127.0.0.1/iceberg"]) == 0
    assert main(["lakes", "list"]) == 0
    assert secret_key not in capsys.readouterr().out
    with session_scope(home) as session:
        iceberg = lake_settings(session, "s3lake", "iceberg", home=home)
        delta = lake_settings(session, "s3lake", "delta", home=home)
    assert secret_key not in repr(iceberg) + repr(delta)
    assert iceberg.credentials() == {"s3.access-key-id": "AKIAMINIOKEY", "s3.secret-access-key": secret_key,
                                     "s3.region": "us-east-1", "s3.endpoint": "http://127.0.0.1:9000"}
    assert delta.credentials() == {"aws_access_key_id": "AKIAMINIOKEY", "aws_secret_access_key": secret_key,
                                   "aws_region": "us-east-1", "aws_endpoint": "http://127.0.0.1:9000"}
    for path in home.root.rglob("*"):
        if path.is_file() and path != home.secret_key_path:
            assert secret_key.encode() not in path.read_bytes(), path


def test_a_lake_refuses_a_password_inside_a_uri(home, capsys):
    assert main(["lakes", "add", "bad", "--warehouse", "file:///tmp/x",
                 "--catalog-uri", "postgresql://u:Hunter2-pw@db/cat"]) == 1
    err = capsys.readouterr().err
    assert "plaintext" in err and "Hunter2-pw" not in err


def test_a_lake_needs_a_file_or_s3_warehouse(home, capsys):
    assert main(["lakes", "add", "bad", "--warehouse", "ftp://host/lake"]) == 1
    assert "--warehouse" in capsys.readouterr().err


def test_a_lake_secret_must_be_of_type_s3(home, monkeypatch, capsys):
    assert add_secret_cli(monkeypatch, "pg", "postgresql", "pw") == 0
    assert main(["lakes", "add", "bad", "--warehouse", "s3://b/w", "--secret", "pg"]) == 1
    assert "needs an s3 secret" in capsys.readouterr().err


def test_a_secret_used_by_a_lake_cannot_be_removed(home, monkeypatch, capsys):
    assert add_secret_cli(monkeypatch, "minio", "s3", "k", "--user", "AKIA") == 0
    assert main(["lakes", "add", "s3lake", "--warehouse", "s3://b/w", "--secret", "minio"]) == 0
    assert main(["secrets", "remove", "minio"]) == 1
    assert "lake s3lake" in capsys.readouterr().err


def test_unknown_lake_and_format_are_one_line_errors(home):
    with session_scope(home) as session:
        with pytest.raises(ConfigError, match="unknown lake 'nope'"):
            lake_settings(session, "nope", "iceberg", home=home)
        with pytest.raises(ConfigError, match="format"):
            lake_settings(session, "lake", "parquet", home=home)


def test_commands_before_init_say_to_run_init(sage_home, capsys):
    assert main(["lakes", "list"]) == 1
    assert "sage init" in capsys.readouterr().err
    assert not SageHome.from_env().secret_key_path.exists()
