"""`sage demo`: three weekly uploads end as exactly the tables their strategies define, and every
run, from a clean home, prints the story README.md shows."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb

from sage_pipelines.demo import console_token, run_demo
from sage_pipelines.demo.data import write_week
from sage_pipelines.services.auth import authenticate
from sage_pipelines.services.home import init_home
from sage_pipelines.services.secrets import add_secret, get_secret
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines_tests.conftest import run_sage

README = Path(__file__).resolve().parents[1] / "README.md"
CONSOLE_LINE = re.compile(r"Open the console \(and API\) on the same data:  SAGE_HOME=\.sage \.venv/bin/sage serve"
                          r"   \(then http://127\.0\.0\.1:8080, log in with the admin token (sage_\S+)\)")


def expected_tables(tmp: Path) -> dict[str, int]:
    clientes: set[str] = set()
    productos: set[str] = set()
    ventas: dict[str, list[dict]] = {}
    for week in (1, 2, 3):
        folder = write_week(tmp / f"w{week}", week)
        with (folder / "clientes.csv").open(encoding="utf-8") as f:
            clientes |= {r["codigo_cliente"] for r in csv.DictReader(f)}
        with (folder / "productos.csv").open(encoding="utf-8") as f:
            productos |= {r["codigo_producto"] for r in csv.DictReader(f)}
        with (folder / "ventas.csv").open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for semana in {r["semana"] for r in rows}:  # delete_insert by semana
            ventas[semana] = [r for r in rows if r["semana"] == semana]
    sales = sum(len(v) for v in ventas.values())
    return {"warehouse:dim_clientes": len(clientes), "warehouse:dim_productos": len(productos),
            "warehouse:fact_ventas": sales, "lake:ventas_semanales.fact_ventas": sales}


def test_demo_materializes_three_weeks_into_the_tables_the_strategies_define(sage_home, tmp_path):
    lines: list[str] = []
    summary = run_demo(SageHome(sage_home), echo=lines.append)
    assert summary.final_counts == expected_tables(tmp_path)
    week2 = summary.weeks[1]["tables"]
    assert week2["warehouse/ventas_semanales/fact_ventas"]["deleted"] == 2000  # the re-sent week 1 replaced it
    assert week2["warehouse/ventas_semanales/dim_clientes"]["updated"] == 300
    assert week2["warehouse/ventas_semanales/dim_clientes"]["inserted"] == 30
    assert any("sage dev" in line for line in lines)
    serve = [line for line in lines if ".venv/bin/sage serve" in line and f"SAGE_HOME={sage_home}" in line]
    assert len(serve) == 1 and re.search(r"admin token sage_\d+_\S{43}\)$", serve[0])
    con = duckdb.connect(str(SageHome(sage_home).warehouse_path), read_only=True)
    codes = [r[0] for r in con.execute("SELECT codigo_cliente FROM dim_clientes ORDER BY 1 LIMIT 1").fetchall()]
    con.close()
    assert codes == ["000001"]  # texto keeps leading zeros


def test_row_count_is_the_tables_size_after_the_write_and_the_uploads_figures_keep_their_own_keys(sage_home, tmp_path):
    summary = run_demo(SageHome(sage_home), echo=lambda _: None)
    week3 = summary.weeks[2]["tables"]
    sales = expected_tables(tmp_path)["warehouse:fact_ventas"]
    for key in ("warehouse/ventas_semanales/fact_ventas", "lake/ventas_semanales/lake.fact_ventas"):
        assert week3[key]["dagster/row_count"] == sales  # the whole table (three weeks)
        assert week3[key]["rows_in_upload"] == week3[key]["inserted"] == 2000  # week 3 alone
    assert week3["warehouse/ventas_semanales/fact_ventas"]["dagster/table_name"] == "warehouse.main.fact_ventas"
    assert week3["warehouse/ventas_semanales/fact_ventas"]["dagster/uri"] == str(SageHome(sage_home).warehouse_path)
    lake = week3["lake/ventas_semanales/lake.fact_ventas"]
    assert lake["dagster/table_name"] == "lake.ventas_semanales.fact_ventas"
    assert lake["dagster/uri"] == lake["sage/table_location"]


def readme_demo_output() -> list[str]:
    """The fenced block of README.md's "What the demo shows"."""
    section = README.read_text(encoding="utf-8").split("## What the demo shows", 1)[1]
    return section.split("```text\n", 1)[1].split("```", 1)[0].splitlines()


def test_every_demo_run_starts_from_a_clean_home_and_prints_the_readmes_story(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `make demo` runs in the repository, on ./.sage
    home = SageHome(tmp_path / ".sage")
    first: list[str] = []
    run_demo(home, echo=lambda text: first.extend(text.split("\n")))
    again: list[str] = []
    summary = run_demo(home, echo=lambda text: again.extend(text.split("\n")))
    *story, console = first
    assert story == readme_demo_output()
    assert again[:-1] == story
    tokens = [CONSOLE_LINE.fullmatch(line).group(1) for line in (console, again[-1])]
    assert tokens[0] != tokens[1]  # every run prints a fresh token
    assert [w["upload_id"] for w in summary.weeks] == ["semana-01", "semana-02", "semana-03"]
    assert sorted(p.name for p in home.landing.joinpath("ventas_semanales").iterdir()) == [
        "semana-01", "semana-02", "semana-03"]  # not six: the second run did not add to the first


def test_the_demo_refuses_a_home_holding_more_than_an_earlier_demo_left(sage_home):
    home = init_home(SageHome(sage_home))
    with session_scope(home) as session:
        add_secret(session, "pg_prod", "postgresql", host="db.example", home=home)
    done = run_sage(sage_home, "demo")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"sage: error: SAGE_HOME {sage_home} holds db_secrets 'pg_prod', so it is not the demo's to empty; "
        "run the demo with SAGE_HOME set to a new folder"]
    with session_scope(home) as session:
        assert get_secret(session, "pg_prod").servidor == "db.example"  # the home is untouched


def test_the_demo_refuses_a_store_outside_its_home(sage_home):
    done = run_sage(sage_home, "demo", SAGE_STORE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "sage: error: the demo runs on the embedded defaults and starts from a clean home: unset SAGE_STORE_URL "
        "(its store is not the demo's to empty)"]


def test_the_demo_console_token_logs_in_as_its_admin(sage_home):
    home = init_home(SageHome(sage_home))
    first, second = console_token(home), console_token(home)  # each `make demo` prints a fresh one
    assert first != second
    with session_scope(home) as session:
        for token in (first, second):
            principal = authenticate(session, token)
            assert (principal.user, principal.role) == ("demo", "admin")
