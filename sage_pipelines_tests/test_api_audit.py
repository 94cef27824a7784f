"""The audit: every change, from the CLI or the API, is exactly one row saying when, who, from
where, what, and the changed fields before and after, with secrets as `***`."""

from __future__ import annotations

import getpass

import pytest
from sqlalchemy import func, select

from sage_pipelines.cli import main
from sage_pipelines.services.audit import Actor, acting_as, audit, changed_fields, current_actor, masked
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.models import AuditLog
from sage_pipelines_tests.api_support import (API, CASILLA, DEMO_YAML, api_home, audit_rows, bearer,  # noqa: F401
                                              client, tokens)
from sage_pipelines_tests.secrets_support import add_secret_cli, canary


def count(home) -> int:
    with session_scope(home) as session:
        return session.scalar(select(func.count()).select_from(AuditLog))


def test_changed_fields_keep_only_what_changed_and_mask_secrets():
    before = {"host": "a", "port": 5432, "password": masked(b"cipher-1"), "options": {"sslmode": "require"}}
    after = {"host": "b", "port": 5432, "password": masked(b"cipher-2"), "options": {"sslmode": "require"}}
    assert changed_fields(before, after) == ({"host": "a", "password": "***"}, {"host": "b", "password": "***"})
    assert changed_fields(before, before) == ({}, {})
    assert changed_fields(None, {"password": masked(None), "user": "x"}) == (None, {"password": None, "user": "x"})
    assert changed_fields({"password": masked(b"c")}, None) == ({"password": "***"}, None)


def test_the_actor_is_set_once_per_entry_point_and_defaults_to_the_system():
    assert current_actor().name.startswith("system:") and current_actor().source == "system"
    with acting_as(Actor("ana", "api", "10.0.0.7")):
        assert current_actor() == Actor("ana", "api", "10.0.0.7")
    assert current_actor().source == "system"


def test_a_cli_change_is_one_row_by_cli_os_user_with_the_password_masked(api_home, monkeypatch):
    password = canary()
    before = count(api_home)
    assert add_secret_cli(monkeypatch, "pg", "postgresql", password, "--host", "db1", "--user", "ana") == 0
    assert count(api_home) == before + 1
    row = audit_rows(api_home, accion="secret.add")[-1]
    assert (row.actor, row.origen, row.cliente, row.objeto) == (f"cli:{getpass.getuser()}", "cli", None, "secret:pg")
    assert row.antes is None
    assert row.despues == {"type": "postgresql", "host": "db1", "port": None, "user": "ana", "database": None,
                           "options": {}, "password": "***"}
    assert add_secret_cli(monkeypatch, "pg", "postgresql", password, "--host", "db2", "--user", "ana",
                          "--replace") == 0
    replaced = audit_rows(api_home, accion="secret.replace")[-1]
    assert (replaced.antes, replaced.despues) == ({"host": "db1", "password": "***"}, {"host": "db2", "password": "***"})


def test_an_api_change_is_one_row_by_the_user_from_the_client_address(client, tokens, api_home):
    admin = bearer(tokens["admin"])
    password = canary()
    changes = [
        ("secret.add", "secret:pg", lambda: client.post(f"{API}/secrets", headers=admin, json={
            "name": "pg", "type": "postgresql", "host": "db1", "password": password})),
        ("secret.replace", "secret:pg", lambda: client.put(f"{API}/secrets/pg", headers=admin, json={
            "type": "postgresql", "host": "db2"})),
        ("connection.add", "connection:analytics", lambda: client.post(f"{API}/connections", headers=admin, json={
            "name": "analytics", "secret": "pg", "schema": "sales"})),
        ("casilla.add", f"casilla:{CASILLA}", lambda: client.post(f"{API}/casillas", headers=admin, data={
            "name": CASILLA}, files={"yaml": ("c.yaml", DEMO_YAML.read_bytes())})),
        ("server.add", "server:big1", lambda: client.post(f"{API}/servers", headers=admin, json={
            "name": "big1", "endpoint": f"redis://:{password}@127.0.0.1:6379/3"})),
        ("server.remove", "server:big1", lambda: client.delete(f"{API}/servers/big1", headers=admin)),
        ("connection.remove", "connection:analytics", lambda: client.delete(f"{API}/connections/analytics",
                                                                            headers=admin)),
        ("secret.remove", "secret:pg", lambda: client.delete(f"{API}/secrets/pg", headers=admin)),
    ]
    for action, obj, call in changes:
        before = count(api_home)
        assert call().status_code < 300
        assert count(api_home) == before + 1, action  # exactly one row per change
        row = audit_rows(api_home)[-1]
        assert (row.accion, row.objeto, row.actor, row.origen, row.cliente) == (
            action, obj, "admin_user", "api", "testclient")
    rows = {r.accion: r for r in audit_rows(api_home, actor="admin_user")}
    assert (rows["secret.replace"].antes, rows["secret.replace"].despues) == ({"host": "db1"}, {"host": "db2"})
    assert rows["server.add"].despues["password"] == "***"  # the broker's password, in the same one row
    assert rows["secret.remove"].antes["password"] == "***" and rows["secret.remove"].despues is None
    assert rows["connection.add"].despues == {"secret": "pg", "database": None, "schema": "sales"}
    everything = repr([(r.antes, r.despues, r.detalle) for r in audit_rows(api_home)])
    assert password not in everything


def test_a_refused_change_writes_no_change_row_only_its_refusal(client, tokens, api_home):
    before = count(api_home)
    response = client.post(f"{API}/secrets", headers=bearer(tokens["viewer"]), json={"name": "x", "type": "mysql"})
    assert response.status_code == 403
    assert [r.accion for r in audit_rows(api_home)[before:]] == ["auth.forbidden"]
    invalid = client.post(f"{API}/secrets", headers=bearer(tokens["admin"]), json={"name": "x", "type": "oracle"})
    assert invalid.status_code == 400 and count(api_home) == before + 1  # a mistake changes nothing


def test_the_audit_endpoint_filters_as_sage_audit_does(client, tokens, api_home, capsys):
    admin = bearer(tokens["admin"])
    client.post(f"{API}/secrets", headers=admin, json={"name": "pg", "type": "postgresql"})
    assert main(["users", "add", "ana", "--role", "viewer"]) == 0
    by_object = client.get(f"{API}/audit?object=pg", headers=admin).json()
    assert [(r["action"], r["object"], r["actor"], r["source"]) for r in by_object] == [
        ("secret.add", "secret:pg", "admin_user", "api")]
    cli_rows = client.get(f"{API}/audit", headers=admin, params={"actor": f"cli:{getpass.getuser()}", "since": "1h"}).json()
    assert [r["object"] for r in cli_rows] == ["user:ana"]
    bad = client.get(f"{API}/audit?since=yesterday", headers=admin)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "since"


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_admins_read_the_audit(client, tokens, role):
    assert client.get(f"{API}/audit", headers=bearer(tokens[role])).status_code == 403


def test_a_service_called_outside_any_entry_point_is_audited_as_the_system(api_home):
    with session_scope(api_home) as session:
        audit(session, "test.change", "thing:x", before={"a": 1}, after={"a": 2})
    row = audit_rows(api_home, accion="test.change")[0]
    assert row.actor == f"system:{getpass.getuser()}" and row.origen == "system"
