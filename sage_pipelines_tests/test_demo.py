"""`sage demo`: three weekly uploads end as exactly the tables their strategies define."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb

from sage_pipelines.demo import console_token, run_demo
from sage_pipelines.demo.data import write_week
from sage_pipelines.services.auth import authenticate
from sage_pipelines.services.home import init_home
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope


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
    week2 = {k.split("/")[-1]: m for k, m in summary.weeks[1]["tables"].items()}
    assert week2["ventas"]["deleted"] == 2000  # the re-sent week 1 replaced the first version
    assert week2["clientes"]["updated"] == 300 and week2["clientes"]["inserted"] == 30
    assert any("sage dev" in line for line in lines)
    serve = [line for line in lines if ".venv/bin/sage serve" in line and f"SAGE_HOME={sage_home}" in line]
    assert len(serve) == 1 and re.search(r"admin token sage_\d+_\S{43}\)$", serve[0])
    con = duckdb.connect(str(SageHome(sage_home).warehouse_path), read_only=True)
    codes = [r[0] for r in con.execute("SELECT codigo_cliente FROM dim_clientes ORDER BY 1 LIMIT 1").fetchall()]
    con.close()
    assert codes == ["000001"]  # texto keeps leading zeros


def test_the_demo_console_token_logs_in_as_its_admin(sage_home):
    home = init_home(SageHome(sage_home))
    first, second = console_token(home), console_token(home)  # each `make demo` prints a fresh one
    assert first != second
    with session_scope(home) as session:
        for token in (first, second):
            principal = authenticate(session, token)
            assert (principal.user, principal.role) == ("demo", "admin")
