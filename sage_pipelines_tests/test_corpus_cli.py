"""A handful of corpus inputs end to end through the real `sage` command: the user sees exactly
one line on stderr naming the input's fault, the exit status is non-zero, and nothing is written
(the DuckDB table not created, landing without a trace of the refused upload)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from sage_pipelines_tests.corpus_support import CORPUS

SAGE = str(Path(sys.executable).parent / "sage")
MATERIALIZATION = """
materialization:
  name: cli_csv
  casilla: csv_basic
  destinations: {warehouse: {connection: warehouse}}
  tables: {datos: {table: cli_datos, primary_key: [id], strategy: upsert}}
"""


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("corpus_cli")
    env = {**os.environ, "SAGE_HOME": str(root / "home"), "DAGSTER_HOME": str(root / "home" / "dagster")}
    env.pop("SAGE_STORE_URL", None)
    env.pop("SAGE_SECRET_KEY", None)
    spec = root / "cli_csv.yaml"
    spec.write_text(MATERIALIZATION)
    for args in (["init"], ["casillas", "add", "csv_basic", "--yaml", str(CORPUS / "casillas" / "csv_basic.yaml")],
                 ["materializations", "apply", str(spec)]):
        subprocess.run([SAGE, *args], env=env, check=True, capture_output=True, timeout=120)
    return env


def sage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SAGE, *args], env=env, capture_output=True, text=True, timeout=300)


def refused_in_one_line(result: subprocess.CompletedProcess, *must_name: str) -> str:
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sage: error: ") and "Traceback" not in lines[0]
    for part in must_name:
        assert part in lines[0], lines[0]
    return lines[0]


def test_casillas_add_refuses_an_alias_bomb_in_one_line(cli_home):
    path = CORPUS / "casillas" / "alias_bomb.yaml"
    refused_in_one_line(sage(cli_home, "casillas", "add", "bomb", "--yaml", str(path)), str(path), "alias bomb")


def test_materializations_apply_refuses_a_python_tag_in_one_line(cli_home):
    path = CORPUS / "materializations" / "python_tag.yaml"
    refused_in_one_line(sage(cli_home, "materializations", "apply", str(path)), str(path), "line 2")
    assert not Path("/tmp/sage-corpus-pwned").exists()


def test_uploads_add_refuses_a_zip_member_climbing_out_and_writes_nothing(cli_home):
    landing = Path(cli_home["SAGE_HOME"]) / "landing"
    before = sorted(p.relative_to(landing) for p in landing.rglob("*")) if landing.exists() else []
    result = sage(cli_home, "uploads", "add", "csv_basic", str(CORPUS / "files" / "zip_member_parent_path.zip"))
    refused_in_one_line(result, "zip_member_parent_path.zip!../datos.csv", "'..'")
    after = sorted(p.relative_to(landing) for p in landing.rglob("*")) if landing.exists() else []
    assert after == before
    assert not (landing / "datos.csv").exists() and not (landing.parent / "datos.csv").exists()


def test_materialize_refuses_a_decimal_too_long_in_one_line_and_creates_no_table(cli_home):
    added = sage(cli_home, "uploads", "add", "csv_basic",
                 str(CORPUS / "files" / "decimal_too_many_whole_digits.csv"), "--id", "bad_decimal")
    assert added.returncode == 0, added.stderr
    line = refused_in_one_line(sage(cli_home, "materialize", "csv_basic", "--upload", "bad_decimal", "--in-process"),
                               "bad_decimal/datos.csv", "line 2", "column 'monto'", "'1234567890123456789012345678901'")
    assert "sage_pipelines.errors" not in line
    warehouse = Path(cli_home["SAGE_HOME"]) / "warehouse.duckdb"
    conn = duckdb.connect(str(warehouse))
    try:
        tables = conn.execute("SELECT table_name FROM information_schema.tables").fetchall()
    finally:
        conn.close()
    assert ("cli_datos",) not in tables
