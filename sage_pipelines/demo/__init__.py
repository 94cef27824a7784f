"""`sage demo`: the main job on embedded defaults (SQLite store, DuckDB warehouse, Iceberg lake).

Starts from a clean demo home (`home.py`), registers the casilla `ventas_semanales` (clientes,
productos, ventas), applies its materialization (upsert for the masters, delete_insert by week
for sales), then lands three weekly uploads and materializes each through Dagster, printing
what changed: per table what was inserted, updated and deleted and the rows it holds now, and
for a delete_insert table which weeks were replaced (`tables.py`). The story is the same on
every run (upload ids `semana-01`..`semana-03`), and README's "What the demo shows" prints it.
It calls the same services the CLI calls (`services.*`, `orchestration.run`), never the CLI.
It ends with the commands that open the Dagster UI and the console (with a fresh token of its
admin `demo`) on the same data.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sage_pipelines.demo.data import write_week
from sage_pipelines.demo.home import CASILLA, DEMO_USER, fresh_demo_home
from sage_pipelines.demo.tables import TableState, read_tables, replacements
from sage_pipelines.orchestration.run import materialize_upload, raise_for_failure
from sage_pipelines.services.auth import ADMIN, add_user, create_token
from sage_pipelines.services.casillas import register_casilla
from sage_pipelines.services.home import init_home
from sage_pipelines.services.materializations import apply_materialization
from sage_pipelines.services.uploads import add_upload
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.lookup import find_named
from sage_pipelines.store.models import User

DEMO_DIR = Path(__file__).resolve().parent
WEEKS = (1, 2, 3)
DEMO_TOKEN_DAYS = 7


@dataclass
class DemoSummary:
    weeks: list[dict] = field(default_factory=list)  # per upload: {upload_id, tables: {asset key: metadata}}
    final_counts: dict[str, int] = field(default_factory=dict)


def run_demo(home: SageHome | None = None, echo: Callable[[str], None] = print) -> DemoSummary:
    home = register_demo(init_home(fresh_demo_home(home or SageHome.from_env())))
    where = _shown(home.root)
    echo(f"SAGE_HOME: {where} (a clean demo home)")
    echo(f"casilla {CASILLA}: clientes → dim_clientes (upsert), productos → dim_productos (upsert), "
         f"ventas → fact_ventas (delete_insert by semana) into the DuckDB warehouse {_shown(home.warehouse_path)}; "
         f"ventas also into the Iceberg lake {_shown(home.lake_path)} (partitioned by month of fecha)")
    summary = DemoSummary()
    before: dict[str, TableState] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for week in WEEKS:
            folder = write_week(Path(tmp) / f"semana_{week}", week)
            upload_id = f"semana-{week:02d}"
            with session_scope(home) as session:
                add_upload(session, home, CASILLA, folder, upload_id=upload_id)
            outcome = raise_for_failure(materialize_upload(CASILLA, upload_id, home=home))
            written = {tuple(a.key): a.metadata for a in outcome.assets}
            summary.weeks.append({"upload_id": upload_id, "tables": {"/".join(k): m for k, m in written.items()}})
            after = read_tables(home, CASILLA, upload_id)
            _echo_week(echo, week, upload_id, written, before, after)
            before = after
    summary.final_counts = {label: state.rows for label, state in before.items()}
    echo("\nfinal row counts: " + ", ".join(f"{t} {n:,}" for t, n in summary.final_counts.items()))
    echo(f"\nOpen the Dagster UI on the same data:  SAGE_HOME={where} .venv/bin/sage dev"
         "   (then http://127.0.0.1:3000, asset group ventas_semanales)")
    echo(f"History:  SAGE_HOME={where} .venv/bin/sage history {CASILLA}")
    echo(f"Open the console (and API) on the same data:  SAGE_HOME={where} .venv/bin/sage serve"
         f"   (then http://127.0.0.1:8080, log in with the admin token {console_token(home)})")
    return summary


def _echo_week(echo: Callable[[str], None], week: int, upload_id: str, written: dict[tuple, dict],
               before: dict[str, TableState], after: dict[str, TableState]) -> None:
    echo(f"\nweek {week}: upload {upload_id}")
    echo(f"  {'destination:table':<36}{'inserted':>10}{'updated':>10}{'deleted':>10}{'rows now':>10}")
    for label, state in sorted(after.items()):
        m = written.get(state.asset, {})
        echo(f"  {label:<36}{m.get('inserted', 0):>10,}{m.get('updated', 0):>10,}{m.get('deleted', 0):>10,}"
             f"{state.rows:>10,}")
    told: dict[str, list[str]] = {}  # the same story in several destinations is told once
    for label, state in sorted(after.items()):
        if state.delete_by:
            told.setdefault(replacements(before.get(label), state), []).append(label)
    for story, labels in told.items():
        echo(f"  {' and '.join(labels)}: {story}")


def _shown(path: Path) -> str:
    """`path` relative to the working directory when inside it (`.sage`), else absolute."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else relative


def console_token(home: SageHome) -> str:
    """A fresh token of the demo's admin user `demo` (valid for DEMO_TOKEN_DAYS days)."""
    with session_scope(home) as session:
        user = find_named(session, User, DEMO_USER) or add_user(session, DEMO_USER, ADMIN)
        return create_token(session, user, dt.timedelta(days=DEMO_TOKEN_DAYS), "make demo")


def register_demo(home: SageHome) -> SageHome:
    """Register the demo casilla and apply its materialization on an initialised home."""
    with session_scope(home) as session:
        register_casilla(session, CASILLA, (DEMO_DIR / "ventas_semanales.yaml").read_text(encoding="utf-8"),
                         "ventas_semanales.yaml")
    with session_scope(home) as session:
        apply_materialization(session, (DEMO_DIR / "materialization.yaml").read_text(encoding="utf-8"),
                              "materialization.yaml")
    return home


def final_counts(home: SageHome) -> dict[str, int]:
    """Row counts of every demo table, read back through each destination's own reader."""
    return {label: state.rows for label, state in read_tables(home, CASILLA).items()}
