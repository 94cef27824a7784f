"""What `sage materialize --in-process` prints, run as a user runs it (a `sage` process): one line per
failed step. (Through the run queue and a daemon, the same lines: test_queue.py.)"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from sage_pipelines.demo.data import write_week
from sage_pipelines.settings import SageHome
from sage_pipelines_tests.conftest import run_sage
from sage_pipelines_tests.orchestration_fixtures import CASILLA, demo_home  # noqa: F401

BAD_CANTIDAD = "bad-week/ventas.csv, line 5, column 'cantidad': not a whole number: 'tres'"


def sage(home: SageHome, *argv: str) -> subprocess.CompletedProcess:
    return run_sage(home.root, *argv, DAGSTER_HOME=str(home.dagster_home))


def land_bad_week(home: SageHome, tmp_path: Path) -> str:
    """Week 1 with `tres` (not a number) as the cantidad of ventas.csv's line 5."""
    folder = write_week(tmp_path / "bad", 1)
    lines = (folder / "ventas.csv").read_text(encoding="utf-8").splitlines()
    fields = lines[4].split(",")
    fields[5] = "tres"
    lines[4] = ",".join(fields)
    (folder / "ventas.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = sage(home, "uploads", "add", CASILLA, str(folder), "--id", "bad-week")
    assert done.returncode == 0, done.stderr
    return "bad-week"


def test_a_failing_run_ends_in_one_line_per_failed_step_naming_file_line_column_and_value(demo_home, tmp_path):
    land_bad_week(demo_home, tmp_path)
    done = sage(demo_home, "materialize", CASILLA, "--table", "ventas", "--in-process")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [  # ventas goes to the warehouse and to the lake: two steps failed
        f"sage: error: lake/{CASILLA}/lake.fact_ventas: {BAD_CANTIDAD}",
        f"sage: error: warehouse/{CASILLA}/fact_ventas: {BAD_CANTIDAD}",
    ]
    assert done.stdout.splitlines()[-1].endswith("failed for upload bad-week (full log: the Dagster UI, or --verbose)")


def test_verbose_adds_dagsters_full_log_of_a_failing_run(demo_home, tmp_path):
    land_bad_week(demo_home, tmp_path)
    done = sage(demo_home, "materialize", CASILLA, "--table", "ventas", "--destination", "warehouse", "--verbose",
                "--in-process")
    assert done.returncode == 1
    assert "STEP_FAILURE" in done.stderr and "Stack Trace" in done.stderr
    assert done.stderr.splitlines()[-1] == f"sage: error: warehouse/{CASILLA}/fact_ventas: {BAD_CANTIDAD}"


def test_a_connection_failure_is_one_line_naming_the_connection(demo_home, tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = sage(demo_home, "secrets", "add", "pg_down", "--type", "postgresql", "--host", "127.0.0.1", "--port",
                str(port), "--user", "postgres", "--database", "test")
    assert done.returncode == 0, done.stderr
    assert sage(demo_home, "connections", "add", "down", "--secret", "pg_down").returncode == 0
    spec = tmp_path / "down.yaml"
    spec.write_text(f"materialization:\n  name: ventas_down\n  casilla: {CASILLA}\n"
                    "  destinations: {down: {connection: down}}\n"
                    "  tables: {productos: {primary_key: [codigo_producto], strategy: upsert}}\n", encoding="utf-8")
    assert sage(demo_home, "materializations", "apply", str(spec)).returncode == 0
    folder = write_week(tmp_path / "w1", 1)
    assert sage(demo_home, "uploads", "add", CASILLA, str(folder)).returncode == 0
    done = sage(demo_home, "materialize", CASILLA, "--destination", "down", "--in-process")
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"sage: error: down/{CASILLA}/productos: connection 'down' (postgresql): cannot connect")
    assert f"port {port}" in line


def test_a_misspelt_casilla_is_named_unknown_with_the_registered_ones(demo_home):
    """Through the queue too: a mistake in the request is named before anything else (no daemon here)."""
    done = sage(demo_home, "materialize", "ventas_semanale")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"sage: error: unknown casilla 'ventas_semanale' (registered: {CASILLA}; "
        "add one with `sage casillas add NAME --yaml FILE`)"]
