"""The console's pages: sessions, CSRF, roles and errors beside their field, through the real app
(`create_app`) in-process. The whole path in a real browser is test_console_browser.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sage_pipelines.api.app import create_app
from sage_pipelines.demo import DEMO_DIR
from sage_pipelines.services.auth import add_user, create_token, revoke_token
from sage_pipelines.services.home import init_home
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.models import AuditLog, DbSecret
from sage_pipelines.web.session import COOKIE

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def home(sage_home: Path) -> SageHome:
    return init_home(SageHome(sage_home))


@pytest.fixture
def tokens(home: SageHome) -> dict[str, str]:
    out = {}
    with session_scope(home) as session:
        for name, role in (("ana", "admin"), ("olga", "operator"), ("vic", "viewer")):
            add_user(session, name, role)
            out[role] = create_token(session, name)
    return out


def logged_in(home: SageHome, token: str) -> tuple[TestClient, str]:
    """A client with a session, and the session's CSRF token."""
    client = TestClient(create_app(home), follow_redirects=False)
    csrf = _CSRF.search(client.get("/login").text).group(1)
    answer = client.post("/login", data={"token": token, "csrf_token": csrf, "next": "/casillas"})
    assert answer.status_code == 303, answer.text
    return client, _CSRF.search(client.get("/casillas").text).group(1)


def audit_actions(home: SageHome, action: str) -> list[AuditLog]:
    with session_scope(home) as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.accion == action)))


def test_a_page_without_a_session_sends_the_browser_to_log_in(home, tokens):
    answer = TestClient(create_app(home), follow_redirects=False).get("/connections")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/connections"


def test_the_session_cookie_is_httponly_strict_and_does_not_show_the_token(home, tokens):
    client = TestClient(create_app(home), follow_redirects=False)
    csrf = _CSRF.search(client.get("/login").text).group(1)
    answer = client.post("/login", data={"token": tokens["admin"], "csrf_token": csrf})
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert tokens["admin"] not in cookie and tokens["admin"].split("_", 2)[2] not in cookie


def test_a_wrong_token_is_refused_at_login_and_audited(home, tokens):
    client = TestClient(create_app(home), follow_redirects=False)
    csrf = _CSRF.search(client.get("/login").text).group(1)
    answer = client.post("/login", data={"token": "sage_1_" + "x" * 43, "csrf_token": csrf})
    assert answer.status_code == 401 and "this token is not valid" in answer.text
    refused = audit_actions(home, "auth.unauthenticated")
    assert [(a.objeto, a.origen) for a in refused] == [("POST /login", "web")]


def test_a_form_without_its_csrf_token_changes_nothing(home, tokens):
    client, _csrf = logged_in(home, tokens["admin"])
    answer = client.post("/secrets", data={"name": "pg", "type": "postgresql", "csrf_token": "forged"})
    assert answer.status_code == 403 and "security token does not match" in answer.text
    with session_scope(home) as session:
        assert session.scalar(select(DbSecret).where(DbSecret.nombre == "pg")) is None


def test_a_viewer_sees_secret_names_only_and_may_not_add_one(home, tokens):
    admin, csrf = logged_in(home, tokens["admin"])
    assert admin.post("/secrets", data={"name": "pg", "type": "postgresql", "host": "db.internal",
                                        "csrf_token": csrf}).status_code == 303
    viewer, csrf = logged_in(home, tokens["viewer"])
    page = viewer.get("/connections").text
    assert "pg" in page and "db.internal" not in page and "Add a secret" not in page
    answer = viewer.post("/secrets", data={"name": "pg2", "type": "postgresql", "csrf_token": csrf})
    assert answer.status_code == 403
    assert "your role (viewer) may not add, change, rotate the key of, or remove secrets" in answer.text
    assert viewer.get("/audit").status_code == 403
    forbidden = audit_actions(home, "auth.forbidden")
    assert {(a.actor, a.objeto, a.origen) for a in forbidden} == {("vic", "POST /secrets", "web"),
                                                                  ("vic", "GET /audit", "web")}


def test_changes_from_the_pages_are_audited_under_the_user(home, tokens):
    client, csrf = logged_in(home, tokens["admin"])
    client.post("/secrets", data={"name": "pg", "type": "postgresql", "password": "s3cr3t-value",
                                  "csrf_token": csrf})
    (row,) = audit_actions(home, "secret.add")
    assert (row.actor, row.origen, row.cliente) == ("ana", "web", "testclient")
    assert "s3cr3t-value" not in str(row.despues) and row.despues["password"] == "***"


def test_a_revoked_token_ends_its_session(home, tokens):
    client, _csrf = logged_in(home, tokens["operator"])
    assert client.get("/casillas").status_code == 200
    with session_scope(home) as session:
        revoke_token(session, int(tokens["operator"].split("_")[1]))
    answer = client.get("/casillas")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_a_service_error_shows_beside_the_field_it_names(home, tokens):
    client, csrf = logged_in(home, tokens["admin"])
    answer = client.post("/secrets", data={"name": "pg", "type": "postgresql", "port": "70000", "csrf_token": csrf})
    assert answer.status_code == 400
    assert re.search(r'data-error-for="port">secret &#39;pg&#39;: port 70000 is not between 1 and 65535<', answer.text)


def test_the_materialization_form_puts_an_unknown_key_column_beside_the_key_field(home, tokens):
    client, csrf = logged_in(home, tokens["operator"])
    with open(DEMO_DIR / "ventas_semanales.yaml", "rb") as f:
        assert client.post("/casillas", data={"name": "ventas", "csrf_token": csrf},
                           files={"yaml": ("ventas_semanales.yaml", f, "text/yaml")}).status_code == 303
    form = {"csrf_token": csrf, "name": "ventas", "server": "auto", "dest.connection.warehouse.use": "on",
            "dest.connection.warehouse.alias": "warehouse", "tables.ventas.include": "on",
            "tables.ventas.strategy": "upsert", "tables.ventas.primary_key": "id_ventas",
            "tables.ventas.schema_change": "evolve", "tables.ventas.dest.connection.warehouse": "on"}
    answer = client.post("/casillas/ventas/materialization", data=form)
    assert answer.status_code == 400
    assert re.search(r'data-error-for="tables.ventas.primary_key">console: materialization.tables.ventas'
                     r'.primary_key\[0\]: unknown column &#39;id_ventas&#39;', answer.text)
    form["tables.ventas.primary_key"] = "id_venta"
    answer = client.post("/casillas/ventas/materialization", data=form)
    assert answer.status_code == 303
    page = client.get(answer.headers["location"]).text
    assert "primary_key: [id_venta]" in page and "warehouse: {connection: warehouse}" in page
