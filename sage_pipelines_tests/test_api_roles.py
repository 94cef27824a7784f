"""Each role against each endpoint: allowed (and it works) or refused with 403 as the issue's table
says, every refusal and every missing token audited. The table here is the specification: an
endpoint added to the app without a row here fails `test_the_table_covers_every_endpoint`.

admin: everything. operator: casillas, materializations (and analyze), uploads, runs, and
reading. viewer: reading only, and of a secret only its name and type. The audit log: admin.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from fastapi.testclient import TestClient

from sage_pipelines.api.app import create_app
from sage_pipelines.demo import register_demo
from sage_pipelines.orchestration.submit import submit_upload
from sage_pipelines.servers.instance import ensure_dagster_home
from sage_pipelines.services.auth import ROLES, add_user, create_token
from sage_pipelines.services.connections import add_connection
from sage_pipelines.services.home import init_home
from sage_pipelines.services.lakes import add_lake
from sage_pipelines.services.secrets import add_secret
from sage_pipelines.services.servers import add_server
from sage_pipelines.services.uploads import add_upload
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines_tests.api_support import API, CASILLA, DEMO_YAML, audit_rows, bearer, week_zip
from sage_pipelines_tests.secrets_support import canary

ALL = frozenset(ROLES)
ADMIN = frozenset({"admin"})
WRITERS = frozenset({"admin", "operator"})  # casillas, materializations, uploads, runs
PASSWORD = canary()


@dataclass
class Endpoint:
    method: str
    path: str  # the route as the app declares it
    roles: frozenset[str]
    url: str = ""  # with the path parameters filled in; `{role}` names a thing of the role's own
    request: Callable[[str, "World"], dict[str, Any]] = field(default=lambda role, world: {})
    ok: int = 200

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class World:
    home: SageHome
    tokens: dict[str, str]
    zip_bytes: bytes
    run_id: str
    lake_dir: Path


def _secret_body(role: str, world: World) -> dict[str, Any]:
    return {"json": {"name": f"s_{role}", "type": "postgresql", "host": "127.0.0.1", "password": PASSWORD}}


ENDPOINTS = [
    Endpoint("GET", "/me", ALL),
    Endpoint("GET", "/secrets", ALL),
    Endpoint("POST", "/secrets", ADMIN, request=_secret_body, ok=201),
    Endpoint("POST", "/secrets/rotate-key", ADMIN),
    Endpoint("GET", "/secrets/{name}", ALL, "/secrets/pg"),
    Endpoint("PUT", "/secrets/{name}", ADMIN, "/secrets/pg", lambda r, w: {"json": {
        "type": "postgresql", "host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "test"}}),
    Endpoint("DELETE", "/secrets/{name}", ADMIN, "/secrets/gone_{role}", ok=204),
    Endpoint("GET", "/connections", ALL),
    Endpoint("POST", "/connections", ADMIN, request=lambda r, w: {"json": {"name": f"c_{r}", "secret": "pg"}}, ok=201),
    Endpoint("GET", "/connections/{name}", ALL, "/connections/analytics"),
    Endpoint("PUT", "/connections/{name}", ADMIN, "/connections/analytics",
             lambda r, w: {"json": {"secret": "pg", "schema": "public"}}),
    Endpoint("DELETE", "/connections/{name}", ADMIN, "/connections/gone_{role}", ok=204),
    Endpoint("POST", "/connections/{name}/test", ADMIN, "/connections/analytics/test"),
    Endpoint("GET", "/lakes", ALL),
    Endpoint("POST", "/lakes", ADMIN, request=lambda r, w: {"json": {
        "name": f"l_{r}", "warehouse": (w.lake_dir / r).as_uri()}}, ok=201),
    Endpoint("GET", "/lakes/{name}", ALL, "/lakes/lake"),
    Endpoint("PUT", "/lakes/{name}", ADMIN, "/lakes/spare", lambda r, w: {"json": {"warehouse": w.lake_dir.as_uri()}}),
    Endpoint("DELETE", "/lakes/{name}", ADMIN, "/lakes/gone_{role}", ok=204),
    Endpoint("GET", "/servers", ALL),
    Endpoint("GET", "/servers/status", ALL, "/servers/status?timeout=0.2"),
    Endpoint("POST", "/servers", ADMIN, request=lambda r, w: {"json": {
        "name": f"srv_{r}", "endpoint": "redis://127.0.0.1:6379/9"}}, ok=201),
    Endpoint("GET", "/servers/{name}", ALL, "/servers/local"),
    Endpoint("PUT", "/servers/{name}", ADMIN, "/servers/spare",
             lambda r, w: {"json": {"endpoint": "redis://127.0.0.1:6379/8", "capacity": 2}}),
    Endpoint("DELETE", "/servers/{name}", ADMIN, "/servers/gone_{role}", ok=204),
    Endpoint("GET", "/casillas", ALL),
    Endpoint("POST", "/casillas", WRITERS, request=lambda r, w: {
        "data": {"name": CASILLA}, "files": {"yaml": ("ventas_semanales.yaml", DEMO_YAML.read_bytes())}}),
    Endpoint("GET", "/casillas/{name}", ALL, f"/casillas/{CASILLA}"),
    Endpoint("GET", "/casillas/{name}/catalogs", ALL, f"/casillas/{CASILLA}/catalogs"),
    Endpoint("GET", "/casillas/{name}/yaml", ALL, f"/casillas/{CASILLA}/yaml"),
    Endpoint("POST", "/casillas/{name}/analyze", WRITERS, f"/casillas/{CASILLA}/analyze?rows=50",
             lambda r, w: {"files": {"sample": ("semana.zip", w.zip_bytes)}}),
    Endpoint("GET", "/casillas/{name}/uploads", ALL, f"/casillas/{CASILLA}/uploads"),
    Endpoint("POST", "/casillas/{name}/uploads", WRITERS, f"/casillas/{CASILLA}/uploads",
             lambda r, w: {"files": {"file": ("semana.zip", w.zip_bytes)}}, ok=201),
    Endpoint("GET", "/materializations", ALL),
    Endpoint("POST", "/materializations", WRITERS, request=lambda r, w: {"json": {"materialization": {
        "name": f"m_{r}", "casilla": CASILLA, "destinations": {f"w_{r}": {"connection": "warehouse"}},
        "tables": {"clientes": {"table": f"clientes_{r}", "primary_key": ["codigo_cliente"], "strategy": "upsert"}}}}}),
    Endpoint("GET", "/materializations/{name}", ALL, f"/materializations/{CASILLA}"),
    Endpoint("GET", "/materializations/{name}/export", ALL, f"/materializations/{CASILLA}/export"),
    Endpoint("POST", "/runs", WRITERS, request=lambda r, w: {"json": {"casilla": CASILLA, "tables": ["clientes"]}},
             ok=202),
    Endpoint("GET", "/runs/{run_id}", ALL, "/runs/{run_id}"),
    Endpoint("GET", "/history", ALL),
    Endpoint("GET", "/audit", ADMIN),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """One installation for the whole table: the demo casilla and materialization, an upload, a
    queued run, and for each role a secret, connection, lake and server of its own to remove."""
    root = tmp_path_factory.mktemp("roles")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAGE_HOME", str(root / "home"))
        mp.setenv("DAGSTER_HOME", str(root / "home" / "dagster"))
        home = register_demo(init_home(SageHome(root / "home")))
        ensure_dagster_home(home)
        zip_bytes = week_zip(root)
        (root / "sample.zip").write_bytes(zip_bytes)
        with session_scope(home) as session:
            add_secret(session, "pg", "postgresql", "127.0.0.1", 5432, "postgres", "test", PASSWORD, home=home)
            add_connection(session, "analytics", "pg")
            add_lake(session, "spare", (root / "lakes").as_uri())
            add_server(session, "spare", endpoint="redis://127.0.0.1:6379/7", home=home)
            for role in ROLES:
                add_secret(session, f"gone_{role}", "mysql", home=home)
                add_connection(session, f"gone_{role}", "pg")
                add_lake(session, f"gone_{role}", (root / "lakes" / role).as_uri())
                add_server(session, f"gone_{role}", endpoint="redis://127.0.0.1:6379/6", home=home)
            add_upload(session, home, CASILLA, root / "sample.zip")
        _, runs = submit_upload(CASILLA, home=home)
        with session_scope(home) as session:
            tokens = {role: create_token(session, add_user(session, f"{role}_user", role)) for role in ROLES}
        yield World(home, tokens, zip_bytes, runs[0].run_id, root / "lakes")


@pytest.fixture(scope="module")
def client(world: World) -> TestClient:
    with TestClient(create_app(world.home), raise_server_exceptions=False) as c:
        yield c


def _call(client: TestClient, world: World, endpoint: Endpoint, role: str | None, headers: dict[str, str]):
    url = API + (endpoint.url or endpoint.path).replace("{role}", role or "x").replace("{run_id}", world.run_id)
    return client.request(endpoint.method, url, headers=headers, **endpoint.request(role or "viewer", world))


def test_the_table_covers_every_endpoint(client):
    paths = client.get(f"{API}/openapi.json").json()["paths"]
    declared = {(method.upper(), path[len(API):]) for path, operations in paths.items() for method in operations}
    assert declared == {(e.method, e.path) for e in ENDPOINTS}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_each_role_is_allowed_or_refused_and_refusals_are_audited(client, world, endpoint, role):
    since = dt.datetime.utcnow()
    response = _call(client, world, endpoint, role, bearer(world.tokens[role]))
    if role in endpoint.roles:
        assert response.status_code == endpoint.ok, response.text
        return
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "forbidden" and error["message"].startswith(f"user '{role}_user' ({role}) may not ")
    refusals = [a for a in audit_rows(world.home, accion="auth.forbidden") if a.momento >= since]
    assert [(a.actor, a.origen, a.objeto) for a in refusals] == [
        (f"{role}_user", "api", f"{endpoint.method} {API}{endpoint.url.split('?')[0] or endpoint.path}"
         .replace("{role}", role).replace("{run_id}", world.run_id))]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_without_a_valid_token_every_endpoint_is_401_and_audited(client, world, endpoint):
    for headers in ({}, bearer("sage_1_" + "x" * 43), {"Authorization": f"Basic {world.tokens['admin']}"}):
        since = dt.datetime.utcnow()
        response = _call(client, world, endpoint, None, headers)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthenticated"
        refusals = [a for a in audit_rows(world.home, accion="auth.unauthenticated") if a.momento >= since]
        assert [(a.actor, a.origen, a.cliente) for a in refusals] == [("anonymous", "api", "testclient")]


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_admins_see_more_of_a_secret_than_its_name_and_type(client, world, role):
    for url in ("/secrets", "/secrets/pg"):
        shown = client.get(API + url, headers=bearer(world.tokens[role])).json()
        for secret in shown if isinstance(shown, list) else [shown]:
            assert set(secret) == {"name", "type"}, secret
    admin = client.get(API + "/secrets/pg", headers=bearer(world.tokens["admin"])).json()
    assert admin["host"] == "127.0.0.1" and admin["password_set"] is True and "password" not in admin
