"""`sage demo`: the main job on embedded defaults (SQLite store, DuckDB warehouse).

Registers the casilla `ventas_semanales` (clientes, productos, ventas), applies its
materialization (upsert for the masters, delete_insert by week for sales), then lands three
weekly uploads and materializes each through Dagster, printing what changed. It calls the same
services the CLI calls (`services.*`, `orchestration.run`), never the CLI itself.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sage_pipelines.demo.data import write_week
from sage_pipelines.materialization.plan import load_plans
from sage_pipelines.orchestration.run import materialize_upload, raise_for_failure
from sage_pipelines.services.casillas import register_casilla
from sage_pipelines.services.destinations import open_destination
from sage_pipelines.services.home import init_home
from sage_pipelines.services.materializations import apply_materialization
from sage_pipelines.services.uploads import add_upload
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope

DEMO_DIR = Path(__file__).resolve().parent
CASILLA = "ventas_semanales"


@dataclass
class DemoSummary:
    weeks: list[dict] = field(default_factory=list)  # per upload: {upload_id, tables: {table: metadata}}
    final_counts: dict[str, int] = field(default_factory=dict)


def run_demo(home: SageHome | None = None, echo: Callable[[str], None] = print) -> DemoSummary:
    home = register_demo(init_home(home))
    echo(f"SAGE_HOME: {home.root}")
    echo(f"casilla {CASILLA}: clientes → dim_clientes (upsert), productos → dim_productos (upsert), "
         f"ventas → fact_ventas (delete_insert by semana) into the DuckDB warehouse {home.warehouse_path}; "
         f"ventas also into the Iceberg lake {home.lake_path} (partitioned by month of fecha)")
    summary = DemoSummary()
    with tempfile.TemporaryDirectory() as tmp:
        for week in (1, 2, 3):
            folder = write_week(Path(tmp) / f"semana_{week}", week)
            with session_scope(home) as session:
                upload = add_upload(session, home, CASILLA, folder)
                upload_id = upload.id
            outcome = raise_for_failure(materialize_upload(CASILLA, upload_id, home=home))
            tables = {"/".join(a.key): a.metadata for a in outcome.assets}
            summary.weeks.append({"upload_id": upload_id, "tables": tables})
            echo(f"\nweek {week}: upload {upload_id} (Dagster run {outcome.run_id[:8]})")
            echo(f"  {'destination:table':<36}{'rows':>8}{'inserted':>10}{'updated':>10}{'deleted':>10}{'seconds':>9}")
            for key, meta in sorted(tables.items()):
                where = f"{key.split('/')[0]}:{meta.get('dagster/table_name', key)}"
                echo(f"  {where:<36}{meta.get('dagster/row_count', 0):>8}"
                     f"{meta.get('inserted', 0):>10}{meta.get('updated', 0):>10}{meta.get('deleted', 0):>10}"
                     f"{meta.get('seconds', 0):>9.3f}")
    summary.final_counts = final_counts(home)
    echo("\nfinal row counts: " + ", ".join(f"{t} {n}" for t, n in summary.final_counts.items()))
    echo(f"\nOpen the Dagster UI on the same data:  SAGE_HOME={home.root} .venv/bin/sage dev"
         "   (then http://127.0.0.1:3000, asset group ventas_semanales)")
    echo(f"History:  SAGE_HOME={home.root} .venv/bin/sage history {CASILLA}")
    return summary


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
    counts = {}
    with session_scope(home) as session:
        for plan in load_plans(session):
            if plan.casilla != CASILLA:
                continue
            for table in plan.tables:
                ref = table.destination
                destination = open_destination(session, connection=ref.connection, lake=ref.lake, format=ref.format)
                counts[f"{ref.alias}:{table.spec.qualified_name}"] = destination.read(table.spec).num_rows
    return counts
