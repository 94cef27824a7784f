"""Fixtures for Dagster-level tests: a SAGE_HOME with the demo casilla registered and applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from sage_pipelines.settings import SageHome

CASILLA = "ventas_semanales"


@pytest.fixture
def demo_home(sage_home: Path) -> SageHome:
    """SAGE_HOME initialised, with casilla ventas_semanales and its DuckDB materialization."""
    from sage_pipelines.services.home import init_home
    from sage_pipelines.demo import register_demo
    from sage_pipelines.servers.instance import ensure_dagster_home

    home = register_demo(init_home(SageHome(sage_home)))
    ensure_dagster_home(home)
    return home


def land_week(home: SageHome, tmp_path: Path, week: int, upload_id: str | None = None) -> str:
    """Generate the demo's week `week` and add it as an upload; returns the upload id."""
    from sage_pipelines.demo.data import write_week
    from sage_pipelines.store.db import session_scope
    from sage_pipelines.services.uploads import add_upload

    folder = write_week(tmp_path / f"week{week}_{upload_id or 'auto'}", week)
    with session_scope(home) as session:
        return add_upload(session, home, CASILLA, folder, upload_id=upload_id).id


def sensor_context(home: SageHome, instance, cursor: str | None = None):  # noqa: ANN001, ANN201
    """A sensor's evaluation context on `instance`, with the `sage_store` resource of `home`."""
    from dagster import build_sensor_context

    from sage_pipelines.orchestration.resources import STORE_RESOURCE, store_resource

    return build_sensor_context(instance=instance, cursor=cursor, resources={STORE_RESOURCE: store_resource(home)})
