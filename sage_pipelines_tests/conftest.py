"""Shared fixtures: each builds real things in its own namespace and removes them afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
if not SAMPLES.exists():  # CI clones main beside a copy of shared/
    SAMPLES = Path(os.environ.get("SAGE_SAMPLES_DIR", "/work/shared/samples"))

PG_URL = os.environ.get("SAGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_HOST = os.environ.get("SAGE_TEST_MYSQL_HOST", "127.0.0.1")


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def sage_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty SAGE_HOME (and Dagster home inside it) for one test."""
    home = tmp_path / "sage_home"
    home.mkdir()
    monkeypatch.setenv("SAGE_HOME", str(home))
    monkeypatch.delenv("SAGE_STORE_URL", raising=False)
    monkeypatch.delenv("SAGE_SECRET_KEY", raising=False)
    dagster_home = home / "dagster"
    dagster_home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    return home


def run_sage(sage_home: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    """`sage ARGV...` as a user runs it: its own process on SAGE_HOME `sage_home` (plus `env`)."""
    return subprocess.run([sys.executable, "-m", "sage_pipelines.cli", *argv], capture_output=True, text=True,
                          env={**os.environ, "SAGE_HOME": str(sage_home), **env}, timeout=300)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def pg_schema() -> str:
    """A PostgreSQL schema of its own in database `test`, dropped afterwards."""
    import psycopg

    name = unique_name("t")
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def pg_database() -> str:
    """The URL (postgresql://, no driver suffix) of a PostgreSQL database of its own, dropped afterwards."""
    import psycopg

    name = unique_name("sage_db")
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def mysql_database() -> str:
    """A MariaDB database of its own, dropped afterwards."""
    import pymysql

    name = unique_name("t")
    conn = pymysql.connect(host=MYSQL_HOST, user="root", password="", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
        yield name
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


# --- opt-in long runs and the figures tests report ----------------------------------------------
# Tests marked with one of these run only when `-m` selects them (e.g. `pytest -m fuzz_long`);
# `make test` leaves them out.
OPT_IN_MARKERS = ("fuzz_long", "hypothesis_long", "crash_long")
_FIGURES = pytest.StashKey[list]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    selected = config.getoption("markexpr") or ""
    for item in items:
        for marker in OPT_IN_MARKERS:
            if item.get_closest_marker(marker) and marker not in selected:
                item.add_marker(pytest.mark.skip(reason=f"opt-in: run with -m {marker}"))


@pytest.fixture
def figures(request: pytest.FixtureRequest):
    """`figures(text)` prints `text` in the run's summary (points tried, held, seconds, ...)."""
    lines = request.config.stash.setdefault(_FIGURES, [])
    return lambda text: lines.append(f"{request.node.nodeid}: {text}")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    lines = config.stash.get(_FIGURES, [])
    if lines:
        terminalreporter.section("figures")
        for line in lines:
            terminalreporter.write_line(line)
