"""The bad-input corpus (corpus/manifest.yaml) and a SAGE_HOME that judges it.

`CorpusHome` is one initialised SAGE_HOME with the corpus casillas registered, their
materializations applied (DuckDB `warehouse` + a PostgreSQL schema of its own, and MariaDB for
the names casilla) and helpers that run an input through the same functions the CLI calls:
`register_casilla` (casillas add), `apply_materialization` (materializations apply),
`add_upload` (uploads add) and, for `sage materialize`, what its asset and IO manager do (find
the upload's member, `read_member`, `Destination.write`). The databases are then looked at with
their own clients (duckdb, psycopg, pymysql), never through the code under test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pymysql
import yaml

from sage_pipelines.casilla.readers import read_member
from sage_pipelines.materialization.plan import load_plans
from sage_pipelines.orchestration.assets import find_member
from sage_pipelines.services.casillas import register_casilla
from sage_pipelines.services.connections import add_connection
from sage_pipelines.services.destinations import open_destination
from sage_pipelines.services.materializations import apply_materialization
from sage_pipelines.services.secrets import add_secret
from sage_pipelines.services.uploads import add_upload
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.models import Upload
from sage_pipelines_tests.conftest import MYSQL_HOST, PG_URL

CORPUS = Path(__file__).resolve().parent / "corpus"
# Casillas registered in every corpus home (the rest of casillas/ are inputs that must fail).
HOME_CASILLAS = ("csv_basic", "csv_latin1", "csv_utf8", "csv_noheader", "excel_sheet", "hostile_names",
                 "slash_catalog_key")
DATA_COLUMNS = ("id", "nombre", "monto", "fecha", "activo")
STORE_FILES = ("sage.db", "sage.db-journal", "sage.db-wal", "sage.db-shm")


def manifest() -> list[dict[str, Any]]:
    entries = yaml.safe_load((CORPUS / "manifest.yaml").read_text(encoding="utf-8"))
    for e in entries:
        e.setdefault("id", Path(e.get("upload") or e["yaml"]).stem.replace("generated: ", ""))
    return entries


def entries(stage: str) -> list[dict[str, Any]]:
    return [e for e in manifest() if e["stage"] == stage]


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [f"{e['stage']}-{e['id']}" for e in items]


def shown(value: Any) -> Any:
    """A database value as the manifest writes it: decimals as plain text without trailing zeros."""
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return value


def file_tree(root: Path) -> dict[str, bytes | str]:
    """Every file (with its bytes) and folder under `root`, except the metadata store's files."""
    tree: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            tree[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for f in filenames:
            if f in STORE_FILES:
                continue
            path = os.path.join(dirpath, f)
            tree[os.path.relpath(path, root)] = Path(path).read_bytes() if not os.path.islink(path) else "link"
    return tree


@dataclass
class CorpusHome:
    home: SageHome
    pg_schema: str
    maria_database: str
    casillas: list[str] = field(default_factory=list)

    # --- setup --------------------------------------------------------------------------------

    def register_connections(self) -> None:
        with session_scope(self.home) as session:
            add_secret(session, "corpus_pg", "postgresql", host="127.0.0.1", port=5432, user="postgres",
                       database=PG_URL.rsplit("/", 1)[1], home=self.home)
            add_connection(session, "corpus_pg", "corpus_pg", schema=self.pg_schema)
            add_secret(session, "corpus_maria", "mysql", host=MYSQL_HOST, port=3306, user="root",
                       database=self.maria_database, home=self.home)
            add_connection(session, "corpus_maria", "corpus_maria")

    def register(self, name: str, yaml_file: Path) -> None:
        with session_scope(self.home) as session:
            register_casilla(session, name, yaml_file.read_text(encoding="utf-8"), str(yaml_file))

    def apply(self, yaml_file: Path) -> None:
        with session_scope(self.home) as session:
            apply_materialization(session, yaml_file.read_text(encoding="utf-8"), str(yaml_file))

    # --- the CLI's service functions ------------------------------------------------------------

    def add_upload(self, casilla: str, path: Path) -> str:
        with session_scope(self.home) as session:
            return add_upload(session, self.home, casilla, path).id

    def upload_count(self) -> int:
        with session_scope(self.home) as session:
            return session.query(Upload).count()

    def materialize(self, casilla: str, upload_id: str, aliases: tuple[str, ...] = ("warehouse", "pg")) -> None:
        """What `sage materialize` runs for each table and destination, without Dagster."""
        with session_scope(self.home) as session:
            plans = [p for p in load_plans(session) if p.casilla == casilla]
            for plan in plans:
                for table in plan.tables:
                    dest = table.destination
                    if dest.alias not in aliases:
                        continue
                    member = find_member(self.home, plan.sage, casilla, upload_id, table.catalog_key)
                    destination = open_destination(session, connection=dest.connection, lake=dest.lake,
                                                   format=dest.format)
                    destination.write(read_member(member, columns=table.spec.columns), table.spec, upload_id)

    # --- the databases, through their own clients --------------------------------------------------

    def duckdb_rows(self, table: str, columns: tuple[str, ...] = DATA_COLUMNS) -> list[tuple] | None:
        """The table's rows ordered by id (None when the table does not exist)."""
        if not self.home.warehouse_path.exists():
            return None
        conn = duckdb.connect(str(self.home.warehouse_path))
        try:
            found = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
                                 "AND table_name = ?", [table]).fetchone()[0]
            if not found:
                return None
            select = ", ".join(_dq(c) for c in columns)
            return [tuple(map(shown, r)) for r in conn.execute(
                f"SELECT {select} FROM main.{_dq(table)} ORDER BY {_dq(columns[0])}").fetchall()]
        finally:
            conn.close()

    def pg_rows(self, table: str, columns: tuple[str, ...] = DATA_COLUMNS) -> list[tuple] | None:
        with psycopg.connect(PG_URL) as conn:
            if conn.execute("SELECT to_regclass(%s)", [f"{_dq(self.pg_schema)}.{_dq(table)}"]).fetchone()[0] is None:
                return None
            select = ", ".join(_dq(c) for c in columns)
            return [tuple(map(shown, r)) for r in conn.execute(
                f"SELECT {select} FROM {_dq(self.pg_schema)}.{_dq(table)} ORDER BY {_dq(columns[0])}").fetchall()]

    def maria_rows(self, table: str, columns: tuple[str, ...]) -> list[tuple] | None:
        conn = pymysql.connect(host=MYSQL_HOST, user="root", password="", database=self.maria_database)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s "
                            "AND table_name = %s", (self.maria_database, table))
                if not cur.fetchone()[0]:
                    return None
                select = ", ".join(_bq(c) for c in columns)
                cur.execute(f"SELECT {select} FROM {_bq(table)} ORDER BY {_bq(columns[0])}")
                return [tuple(shown(bool(v) if c == 'd"q' and v is not None else v) for c, v in zip(columns, r))
                        for r in cur.fetchall()]
        finally:
            conn.close()

    def tables(self, table: str) -> dict[str, list[tuple] | None]:
        """The table in both databases every corpus casilla writes to."""
        return {"duckdb": self.duckdb_rows(table), "postgresql": self.pg_rows(table)}


def _dq(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _bq(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
