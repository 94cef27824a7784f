"""The bad-input corpus: each input refused in one line naming file, line, column and value
(where they apply) with nothing written anywhere, or accepted with its values exact.

Inputs and outcomes are in corpus/manifest.yaml; they run through the functions the CLI calls
(see corpus_support). A handful run end to end through the `sage` command (test_corpus_cli.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import uuid
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pymysql
import pytest

from sage_pipelines.casilla.inference import infer_columns
from sage_pipelines.errors import ConfigError, DataError, SageError
from sage_pipelines.services.home import init_home
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.models import Casilla, Materialization
from sage_pipelines_tests.conftest import MYSQL_HOST, PG_URL, unique_name
from sage_pipelines_tests.corpus_support import (CORPUS, HOME_CASILLAS, CorpusHome, entries, file_tree, ids,
                                                 manifest)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusHome:
    """One SAGE_HOME for the whole corpus, its PostgreSQL schema and MariaDB database dropped after."""
    root = tmp_path_factory.mktemp("corpus") / "sage_home"
    schema, database = unique_name("corpus"), unique_name("corpus")
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    maria = pymysql.connect(host=MYSQL_HOST, user="root", password="", autocommit=True)
    with maria.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{database}`")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAGE_HOME", str(root))
        mp.setenv("DAGSTER_HOME", str(root / "dagster"))
        mp.delenv("SAGE_STORE_URL", raising=False)
        mp.delenv("SAGE_SECRET_KEY", raising=False)
        try:
            corpus = CorpusHome(init_home(SageHome(root)), schema, database)
            corpus.register_connections()
            for name in HOME_CASILLAS:
                corpus.register(name, CORPUS / "casillas" / f"{name}.yaml")
                applied = CORPUS / "materializations" / f"{name}.yaml"
                if name != "slash_catalog_key":
                    corpus.apply(applied)
            corpus.materialize("csv_basic", corpus.add_upload("csv_basic", CORPUS / "files" / "good.csv"))
            yield corpus
        finally:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            with maria.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
            maria.close()


def assert_one_line_naming(exc: SageError, error: dict[str, Any], file: str | None = None) -> None:
    message = str(exc)
    assert "\n" not in message and "Traceback" not in message, message
    if file is not None:
        assert file in message, message
    if "line" in error:
        assert re.search(rf"\bline {error['line']}\b", message), message
    if "column" in error:
        assert f"column {error['column']!r}" in message, message
    if "value" in error:
        assert repr(error["value"]) in message or str(error["value"]) in message, message
    assert error["says"] in message, message


def test_the_corpus_holds_at_least_40_inputs_of_every_stage():
    files = [p for p in (CORPUS / "files").iterdir()]
    yamls = list((CORPUS / "casillas").glob("*.yaml")) + list((CORPUS / "materializations").glob("*.yaml"))
    assert len(files) + len(yamls) >= 40
    stages = {e["stage"] for e in manifest()}
    assert stages == {"casilla", "apply", "upload", "read"}
    named = {e["upload"] for e in manifest() if "upload" in e} | {e["yaml"] for e in manifest() if "yaml" in e}
    unused = {f"files/{p.name}" for p in files} - named
    assert not unused, f"corpus files without a manifest entry: {unused}"


# --- casillas add -----------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", entries("casilla"), ids=ids(entries("casilla")))
def test_sage_yaml(corpus: CorpusHome, entry: dict[str, Any]) -> None:
    path = CORPUS / entry["yaml"]
    name = f"case_{uuid.uuid4().hex[:8]}"
    if entry["outcome"] == "accepted":
        corpus.register(name, path)
    else:
        with pytest.raises(ConfigError) as info:
            corpus.register(name, path)
        assert_one_line_naming(info.value, entry["error"], file=str(path))
    with session_scope(corpus.home) as session:
        registered = session.query(Casilla).filter(Casilla.nombre == name).count()
    assert registered == (1 if entry["outcome"] == "accepted" else 0)
    assert not Path("/tmp/sage-corpus-pwned").exists()


# --- materializations apply -----------------------------------------------------------------------------

@pytest.mark.parametrize("entry", entries("apply"), ids=ids(entries("apply")))
def test_materialization_yaml(corpus: CorpusHome, entry: dict[str, Any]) -> None:
    path = CORPUS / entry["yaml"]
    with session_scope(corpus.home) as session:
        before = session.query(Materialization).count()
    with pytest.raises(ConfigError) as info:
        corpus.apply(path)
    assert_one_line_naming(info.value, entry["error"], file=str(path))
    with session_scope(corpus.home) as session:
        assert session.query(Materialization).count() == before
    assert not Path("/tmp/sage-corpus-pwned").exists()


# --- uploads add ------------------------------------------------------------------------------------------

def generated_upload(name: str, tmp_path: Path) -> Path:
    """Inputs made at test time (too big to commit, or links git should not carry)."""
    if name == "symlink_outside_folder":
        secret = tmp_path / "outside" / "secret.csv"
        secret.parent.mkdir()
        secret.write_text("id,nombre,monto,fecha,activo\n1,secret,1,2024-01-01,true\n")
        folder = tmp_path / "upload"
        folder.mkdir()
        os.symlink(secret, folder / "datos.csv")
        return folder
    path = tmp_path / "datos.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("id,nombre,monto,fecha,activo\n100,ok,1,2024-01-01,true\n")
        if name == "record_over_32_mib":  # past two 16 MiB blocks: refused wherever it starts
            f.write('101,"' + "x" * (33 << 20) + '",1,2024-01-01,true\n')
        elif name == "field_of_5_mb":
            f.write('101,"' + FIVE_MB_VALUE.replace('"', '""') + '",1,2024-01-01,true\n')
        else:
            raise AssertionError(name)
    return path


FIVE_MB_VALUE = ("Año ñandú, \"comillas\"; línea\nnueva 😀 " * 150_000)[: 5 << 20]


def upload_path(entry: dict[str, Any], tmp_path: Path) -> Path:
    upload = entry["upload"]
    if upload.startswith("generated: "):
        return generated_upload(upload.removeprefix("generated: "), tmp_path)
    return CORPUS / upload


@pytest.mark.parametrize("entry", entries("upload"), ids=ids(entries("upload")))
def test_upload(corpus: CorpusHome, entry: dict[str, Any], tmp_path: Path) -> None:
    path = upload_path(entry, tmp_path)
    home_before, source_before = file_tree(corpus.home.root), file_tree(tmp_path)
    uploads_before = corpus.upload_count()
    with pytest.raises(ConfigError) as info:
        corpus.add_upload(entry["casilla"], path)
    assert_one_line_naming(info.value, entry["error"])
    # Nothing copied, no half upload in landing, nothing written beside the source or above it.
    assert file_tree(corpus.home.root) == home_before
    assert file_tree(tmp_path) == source_before
    assert not (CORPUS / "datos.csv").exists() and not (CORPUS.parent / "datos.csv").exists()
    assert corpus.upload_count() == uploads_before


# --- materialize ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", [e for e in entries("read") if e["outcome"] == "refused"],
                         ids=ids([e for e in entries("read") if e["outcome"] == "refused"]))
def test_refused_read_writes_nothing(corpus: CorpusHome, entry: dict[str, Any], tmp_path: Path) -> None:
    casilla = entry["casilla"]
    upload_id = corpus.add_upload(casilla, upload_path(entry, tmp_path))  # only values are wrong: it lands
    before = corpus.tables(casilla)
    with pytest.raises(DataError) as info:
        corpus.materialize(casilla, upload_id)
    filename = "datos.xlsx" if casilla == "excel_sheet" else "datos.csv"
    assert_one_line_naming(info.value, entry["error"], file=filename)  # the file as it landed
    assert corpus.tables(casilla) == before  # unchanged, or still not created


@pytest.mark.parametrize("entry", [e for e in entries("read") if e["outcome"] == "accepted"],
                         ids=ids([e for e in entries("read") if e["outcome"] == "accepted"]))
def test_accepted_read_keeps_every_value(corpus: CorpusHome, entry: dict[str, Any], tmp_path: Path) -> None:
    casilla = entry["casilla"]
    before = corpus.tables(casilla)
    corpus.materialize(casilla, corpus.add_upload(casilla, upload_path(entry, tmp_path)))
    after = corpus.tables(casilla)
    if entry["upload"] == "generated: field_of_5_mb":
        for rows in after.values():
            value = {r[0]: r[1] for r in rows}[101]
            assert len(value) == len(FIVE_MB_VALUE) and value == FIVE_MB_VALUE
        return
    expected = [tuple(r) for r in entry["rows"]]
    if not expected:  # no rows: the table is as it was (created empty if it was not there)
        assert after == {engine: rows if rows is not None else [] for engine, rows in before.items()}
    keys = {r[0] for r in expected}
    for engine, rows in after.items():
        assert [r for r in rows if r[0] in keys] == sorted(expected), engine


def test_a_refused_first_upload_creates_no_table(corpus: CorpusHome) -> None:
    # csv_latin1's table has never been written: after a refusal it must still not exist.
    upload_id = corpus.add_upload("csv_latin1", CORPUS / "files" / "latin1_declared_utf8_bytes.csv")
    with pytest.raises(DataError):
        corpus.materialize("csv_latin1", upload_id)
    assert corpus.tables("csv_latin1") == {"duckdb": None, "postgresql": None}


# --- names ----------------------------------------------------------------------------------------------

NAME_COLUMNS = ("id", "group", "select", "30001", "x;--drop", "Año", 'd"q', "s'q", "b`t", "[br]", "a b")
NAME_TABLES = {"group": "group.csv", "select": "select.csv", "30001": "30001.csv", "x;--drop": "x_drop.csv",
               "Año": "anio.csv", "q\"uo'te": "quotes.csv", "b`t[br]": "brackets.csv"}
NAME_ROWS = [
    (1, "'; DROP TABLE sentinel; --", 7, "12.5", "x\"); DELETE FROM sentinel; --", "2024-02-29", True,
     "O'Brien", "`rm -rf`", "[0]", "a b"),
    (2, None, -1, "-0.0000000001", None, "1999-12-31", False, None, None, "]]", "Año ñ"),
]


def write_names_upload(folder: Path) -> None:
    folder.mkdir()
    for filename in NAME_TABLES.values():
        with open(folder / filename, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter=";")
            w.writerow(NAME_COLUMNS)
            for row in NAME_ROWS:
                w.writerow(["" if v is None else ("true" if v is True else "false" if v is False else v)
                            for v in row])


def test_hostile_but_legitimate_names_round_trip_in_duckdb_postgres_and_mariadb(corpus: CorpusHome,
                                                                             tmp_path: Path) -> None:
    # A sentinel table beside the hostile ones in each database must survive untouched.
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{corpus.pg_schema}".sentinel (x int)')
        conn.execute(f'INSERT INTO "{corpus.pg_schema}".sentinel VALUES (1)')
    maria = pymysql.connect(host=MYSQL_HOST, user="root", password="", database=corpus.maria_database,
                            autocommit=True)
    with maria.cursor() as cur:
        cur.execute("CREATE TABLE sentinel (x int)")
        cur.execute("INSERT INTO sentinel VALUES (1)")
    d = duckdb.connect(str(corpus.home.warehouse_path))
    d.execute("CREATE TABLE main.sentinel (x int)")
    d.execute("INSERT INTO main.sentinel VALUES (1)")
    d.close()

    folder = tmp_path / "names"
    write_names_upload(folder)
    corpus.materialize("hostile_names", corpus.add_upload("hostile_names", folder),
                       aliases=("warehouse", "pg", "maria"))

    expected = [tuple(dt.date.fromisoformat(v) if i == 5 else v for i, v in enumerate(r)) for r in NAME_ROWS]
    for table in NAME_TABLES:
        assert corpus.duckdb_rows(table, NAME_COLUMNS) == expected, ("duckdb", table)
        assert corpus.pg_rows(table, NAME_COLUMNS) == expected, ("postgresql", table)
        assert corpus.maria_rows(table, NAME_COLUMNS) == expected, ("mariadb", table)
    # Exactly the declared tables exist (plus the sentinel), each named exactly as written.
    with psycopg.connect(PG_URL) as conn:
        pg_tables = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables "
                                                "WHERE table_schema = %s", [corpus.pg_schema])}
        assert conn.execute(f'SELECT count(*) FROM "{corpus.pg_schema}".sentinel').fetchone()[0] == 1
    assert set(NAME_TABLES) <= pg_tables and not {t for t in pg_tables if "drop" in t.lower()} - {"x;--drop"}
    with maria.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (corpus.maria_database,))
        assert {r[0] for r in cur.fetchall()} == set(NAME_TABLES) | {"sentinel"}
        cur.execute("SELECT count(*) FROM sentinel")
        assert cur.fetchone()[0] == 1
    maria.close()
    d = duckdb.connect(str(corpus.home.warehouse_path))
    try:
        assert d.execute("SELECT count(*) FROM main.sentinel").fetchone()[0] == 1
        duck_tables = {r[0] for r in d.execute("SELECT table_name FROM information_schema.tables "
                                               "WHERE table_schema = 'main'").fetchall()}
    finally:
        d.close()
    assert set(NAME_TABLES) <= duck_tables


def test_analyze_refuses_a_damaged_workbook_in_one_line() -> None:
    path = CORPUS / "files" / "excel_not_a_workbook.xlsx"
    with pytest.raises(ConfigError) as info:
        infer_columns(path)
    assert_one_line_naming(info.value, {"says": "not a readable Excel workbook"}, file=str(path))
