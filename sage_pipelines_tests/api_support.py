"""Fixtures of the API tests (not a test module): an initialised SAGE_HOME, one user and token
per role, and the real app behind FastAPI's TestClient (httpx2, in-process ASGI)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sage_pipelines.api.app import create_app
from sage_pipelines.demo import DEMO_DIR
from sage_pipelines.demo.data import write_week
from sage_pipelines.servers.instance import ensure_dagster_home
from sage_pipelines.services.auth import ROLES, add_user, create_token
from sage_pipelines.services.home import init_home
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.models import AuditLog

API = "/api/v1"
CASILLA = "ventas_semanales"
DEMO_YAML = DEMO_DIR / "ventas_semanales.yaml"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api_home(sage_home: Path) -> SageHome:
    """`sage init` done, the Dagster instance configured."""
    home = init_home(SageHome(sage_home))
    ensure_dagster_home(home)
    return home


@pytest.fixture
def tokens(api_home: SageHome) -> dict[str, str]:
    """role -> a token of user `<role>_user` with that role."""
    out = {}
    with session_scope(api_home) as session:
        for role in ROLES:
            out[role] = create_token(session, add_user(session, f"{role}_user", role))
    return out


@pytest.fixture
def client(api_home: SageHome) -> Iterator[TestClient]:
    """The real app; a bug shows as a 500 response, as a browser would see it."""
    with TestClient(create_app(api_home), raise_server_exceptions=False) as c:
        yield c


def week_zip(tmp_path: Path, week: int = 1) -> bytes:
    """The demo's week `week` as a ZIP package (its members named by the catalogs' filenames)."""
    folder = write_week(tmp_path / f"week{week}", week)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f.name)
    return buffer.getvalue()


def audit_rows(home: SageHome, **where: str) -> list[AuditLog]:
    """Audit rows, oldest first, whose columns equal `where` (e.g. accion="secret.add")."""
    with session_scope(home) as session:
        query = select(AuditLog).order_by(AuditLog.id)
        for column, value in where.items():
            query = query.where(getattr(AuditLog, column) == value)
        return list(session.scalars(query))
