"""The REST API does what the CLI does, through the same services: the same checks, the same
one-line messages (as JSON with a 4xx status), passwords write-only, uploads streamed to disk,
runs queued in the Dagster instance; a bug is a generic 500 with the details in the server log."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
import yaml

from sage_pipelines.cli import main
from sage_pipelines.demo import register_demo
from sage_pipelines.services.secrets import get_secret, secret_payload
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.history import record_history
from sage_pipelines.store.models import Upload
from sage_pipelines_tests.api_support import (API, CASILLA, DEMO_YAML, api_home, bearer, client, tokens,  # noqa: F401
                                              week_zip)
from sage_pipelines_tests.secrets_support import canary


@pytest.fixture
def admin(tokens):
    return bearer(tokens["admin"])


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"} and set(response.json()["error"]) == {"code", "message", "field"}
    return response.json()["error"]


def cli_error(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 1
    return capsys.readouterr().err.removeprefix("sage: error: ").strip()


def add_pg_secret(client, admin, name: str = "pg", password: str | None = None, port: int = 5432):
    return client.post(f"{API}/secrets", headers=admin, json={
        "name": name, "type": "postgresql", "host": "127.0.0.1", "port": port, "user": "postgres",
        "database": "test", "password": password or canary()})


# ------------------------------------------------------------------ errors

def test_mistakes_are_json_with_the_clis_message_and_a_4xx_status(client, admin, capsys):
    assert add_pg_secret(client, admin).status_code == 201
    assert client.post(f"{API}/connections", headers=admin, json={"name": "analytics", "secret": "pg"}).status_code == 201

    unknown = error_of(client.post(f"{API}/connections/nada/test", headers=admin), 404)
    assert unknown["code"] == "not_found"
    assert unknown["message"] == cli_error(capsys, ["connections", "test", "nada"])

    in_use = error_of(client.delete(f"{API}/secrets/pg", headers=admin), 409)
    assert in_use["code"] == "conflict"
    assert in_use["message"] == cli_error(capsys, ["secrets", "remove", "pg"]) == (
        "secret 'pg' is used by connection analytics; remove those first")

    exists = error_of(add_pg_secret(client, admin), 409)
    assert exists["field"] == "name" and exists["message"].startswith("secret 'pg' already exists")

    bad_port = error_of(add_pg_secret(client, admin, "pg2", port=70000), 400)
    assert (bad_port["code"], bad_port["field"]) == ("invalid", "port")
    assert bad_port["message"] == "secret 'pg2': port 70000 is not between 1 and 65535"

    not_a_number = error_of(client.post(f"{API}/secrets", headers=admin, json={"name": "x", "type": "mysql",
                                                                                "port": "abc"}), 400)
    assert not_a_number["field"] == "port" and not_a_number["message"].startswith("port: ")

    assert error_of(client.get(f"{API}/nothing/here", headers=admin), 404)["code"] == "not_found"
    assert error_of(client.patch(f"{API}/secrets/pg", headers=admin), 405)["code"] == "method_not_allowed"


def test_a_bug_is_a_generic_500_logged_on_the_server_never_a_traceback(client, admin, api_home, caplog):
    with sqlite3.connect(api_home.root / "sage.db") as db:  # a store out of step with the code: a bug
        db.execute("DROP TABLE casillas")
    caplog.set_level(logging.ERROR)
    response = client.get(f"{API}/casillas", headers=admin)
    error = error_of(response, 500)
    assert error == {"code": "internal", "message": "internal error; the server log has the details", "field": None}
    assert "Traceback" not in response.text and "casillas" not in response.text
    assert "GET /api/v1/casillas failed: OperationalError" in caplog.text


# ------------------------------------------------------------------ secrets

def test_a_password_is_write_only_and_an_edit_without_one_keeps_it(client, admin, api_home):
    password = canary()
    created = add_pg_secret(client, admin, password=password)
    shown = client.get(f"{API}/secrets/pg", headers=admin)
    listed = client.get(f"{API}/secrets", headers=admin)
    for response in (created, shown, listed):
        assert password not in response.text and '"password"' not in response.text
    assert shown.json()["password_set"] is True

    edited = client.put(f"{API}/secrets/pg", headers=admin, json={"type": "postgresql", "host": "localhost"})
    assert edited.status_code == 200 and edited.json()["host"] == "localhost"
    with session_scope(api_home) as session:
        assert secret_payload(session, get_secret(session, "pg").id, home=api_home) == {"password": password}

    other = canary()
    client.put(f"{API}/secrets/pg", headers=admin, json={"type": "postgresql", "password": other})
    with session_scope(api_home) as session:
        assert secret_payload(session, get_secret(session, "pg").id, home=api_home) == {"password": other}
    assert error_of(client.put(f"{API}/secrets/nada", headers=admin, json={"type": "mysql"}), 404)["message"].startswith(
        "unknown secret 'nada'")


def test_rotating_the_key_keeps_every_password(client, admin, api_home):
    password = canary()
    add_pg_secret(client, admin, password=password)
    before = (api_home.root / "secret.key").read_bytes()
    response = client.post(f"{API}/secrets/rotate-key?drop_old=true", headers=admin)
    assert response.json() == {"reencrypted": 1, "old_keys_removed": 1}
    assert (api_home.root / "secret.key").read_bytes() != before
    with session_scope(api_home) as session:
        assert secret_payload(session, get_secret(session, "pg").id, home=api_home) == {"password": password}


# ------------------------------------------------------------------ connections, lakes, servers

def test_a_connection_test_says_which_check_failed_or_the_latency(client, admin):
    add_pg_secret(client, admin)
    add_pg_secret(client, admin, "closed", port=1)
    for name, secret in (("good", "pg"), ("bad", "closed")):
        client.post(f"{API}/connections", headers=admin, json={"name": name, "secret": secret})
    good = client.post(f"{API}/connections/good/test", headers=admin).json()
    assert good["ok"] is True and good["failed"] is None and good["latency_ms"] > 0
    bad = client.post(f"{API}/connections/bad/test", headers=admin).json()
    assert (bad["ok"], bad["failed"], bad["latency_ms"]) == (False, "port", None)
    assert bad["message"].startswith("port: nothing accepts connections on port 1")
    listed = {c["name"]: c for c in client.get(f"{API}/connections", headers=admin).json()}
    assert (listed["good"]["status"], listed["bad"]["status"]) == ("ok", "error")


def test_a_connection_or_lake_in_use_cannot_be_removed(client, admin, api_home):
    register_demo(api_home)  # its materialization writes to connection `warehouse` and lake `lake`
    for url, name in ((f"{API}/connections/warehouse", "connection"), (f"{API}/lakes/lake", "lake")):
        error = error_of(client.delete(url, headers=admin), 409)
        assert error["message"] == f"{name} {url.rsplit('/', 1)[1]!r} is used by materialization ventas_semanales; " \
                                   "apply them without it first"


def test_a_broker_password_never_shows_and_the_run_queue_learns_the_capacity(client, admin, api_home):
    password = canary()
    created = client.post(f"{API}/servers", headers=admin, json={
        "name": "big1", "endpoint": f"redis://:{password}@127.0.0.1:6379/5", "capacity": 3})
    assert created.status_code == 201 and created.json()["endpoint"] == "redis://:***@127.0.0.1:6379/5"
    listed = client.get(f"{API}/servers", headers=admin)
    assert password not in created.text + listed.text
    assert [s["name"] for s in listed.json()] == ["local", "big1"]
    instance_yaml = (api_home.dagster_home / "dagster.yaml").read_text()
    assert "value: big1" in instance_yaml and "limit: 3" in instance_yaml
    status = {s["name"]: s for s in client.get(f"{API}/servers/status?timeout=0.5", headers=admin).json()}
    assert status["local"]["state"] == "online"
    assert client.delete(f"{API}/servers/big1", headers=admin).status_code == 204
    assert "big1" not in (api_home.dagster_home / "dagster.yaml").read_text()


# ------------------------------------------------------------------ casillas, analyze, uploads

def register(client, headers, text: bytes = DEMO_YAML.read_bytes(), name: str = CASILLA):
    return client.post(f"{API}/casillas", headers=headers, data={"name": name},
                       files={"yaml": ("ventas_semanales.yaml", text)})


def test_a_casilla_is_registered_from_its_uploaded_yaml_with_its_catalogs(client, admin):
    assert register(client, admin).json()["catalogs"] == ["clientes", "productos", "ventas"]
    detail = client.get(f"{API}/casillas/{CASILLA}", headers=admin).json()
    ventas = next(c for c in detail["catalog_details"] if c["key"] == "ventas")
    assert ventas["filename"] == "ventas.csv" and ventas["format"] == "CSV"
    assert client.get(f"{API}/casillas/{CASILLA}/yaml", headers=admin).text == DEMO_YAML.read_text(encoding="utf-8")
    assert [c["key"] for c in client.get(f"{API}/casillas/{CASILLA}/catalogs", headers=admin).json()] == [
        "clientes", "productos", "ventas"]


def test_a_bad_casilla_yaml_is_refused_as_the_cli_refuses_it_and_nothing_is_stored(client, admin, tmp_path, capsys):
    bad = b"sage_yaml:\n  name: x\ncatalogs: [\n"
    error = error_of(register(client, admin, bad, "rota"), 400)
    (tmp_path / "ventas_semanales.yaml").write_bytes(bad)
    assert error["message"] == cli_error(capsys, ["casillas", "add", "rota", "--yaml",
                                                 str(tmp_path / "ventas_semanales.yaml")]).replace(
        str(tmp_path / "ventas_semanales.yaml"), "ventas_semanales.yaml")
    assert client.get(f"{API}/casillas", headers=admin).json() == []
    latin1 = error_of(register(client, admin, "año".encode("latin-1"), "rota"), 400)
    assert latin1["message"].startswith("ventas_semanales.yaml: not UTF-8 text")
    nul = error_of(register(client, admin, b"sage_yaml:\n  name: x\x00\n", "rota"), 400)
    assert nul["message"] == "ventas_semanales.yaml: line 2: not valid YAML: character U+0000 is not allowed"


def test_analyze_proposes_what_sage_analyze_prints_and_apply_takes_it(client, admin, tmp_path, capsys):
    register(client, admin)
    sample = tmp_path / "semana.zip"
    sample.write_bytes(week_zip(tmp_path))
    response = client.post(f"{API}/casillas/{CASILLA}/analyze", headers=admin,
                           files={"sample": ("semana.zip", sample.read_bytes())})
    assert response.status_code == 200, response.text
    capsys.readouterr()
    assert main(["analyze", CASILLA, "--sample", str(sample)]) == 0
    assert response.json()["yaml"] == capsys.readouterr().out.replace(str(sample), "semana.zip")
    document = response.json()["materialization"]
    proposal = document["materialization"]["tables"]["clientes"]
    assert proposal["strategy"] == "upsert" and proposal["primary_key"] == ["codigo_cliente"]
    assert response.json()["inferred"]["clientes"]["key_candidates"][0] == ["codigo_cliente"]
    applied = client.post(f"{API}/materializations", headers=admin, json=document)  # accepted as proposed
    assert applied.status_code == 200, applied.text
    assert applied.json()["yaml"] in response.json()["yaml"]


def test_an_uploaded_zip_lands_exactly_as_sage_uploads_add_lands_it(client, admin, api_home, tmp_path):
    register(client, admin)
    package = tmp_path / "semana.zip"
    package.write_bytes(week_zip(tmp_path))
    response = client.post(f"{API}/casillas/{CASILLA}/uploads", headers=admin, data={"id": "via-api"},
                           files={"file": ("semana.zip", package.read_bytes())})
    assert response.status_code == 201, response.text
    assert response.json()["upload"]["files"] == ["clientes.csv", "productos.csv", "ventas.csv"]
    assert main(["uploads", "add", CASILLA, str(package), "--id", "via-cli"]) == 0
    landed = {i: sorted(p.relative_to(api_home.upload_dir(CASILLA, i)).as_posix()
                        for p in api_home.upload_dir(CASILLA, i).rglob("*"))
              for i in ("via-api", "via-cli")}
    assert landed["via-api"] == landed["via-cli"] == ["semana.zip"]
    assert (api_home.upload_dir(CASILLA, "via-api") / "semana.zip").read_bytes() == package.read_bytes()
    with session_scope(api_home) as session:
        assert session.get(Upload, "via-api").origen == "api"
    again = error_of(client.post(f"{API}/casillas/{CASILLA}/uploads", headers=admin, data={"id": "via-api"},
                                 files={"file": ("semana.zip", package.read_bytes())}), 409)
    assert again["message"].startswith("upload 'via-api' already exists in casilla 'ventas_semanales'")
    assert not list((api_home.root / ".incoming").iterdir())  # nothing left behind


def test_a_file_no_catalog_names_is_refused_and_nothing_lands(client, admin, api_home):
    register(client, admin)
    error = error_of(client.post(f"{API}/casillas/{CASILLA}/uploads", headers=admin,
                                 files={"file": ("otra.csv", b"a,b\n1,2\n")}), 400)
    assert "otra.csv" in error["message"]
    assert not (api_home.landing / CASILLA).exists() or not list((api_home.landing / CASILLA).iterdir())


# ------------------------------------------------------------------ materializations

MATERIALIZATION = f"""materialization:
  name: semanal
  casilla: {CASILLA}
  destinations:
    warehouse: {{connection: warehouse}}
  tables:
    ventas:
      table: fact_ventas
      primary_key: [id_venta]
      strategy: delete_insert
      delete_by: [semana]
      columns: {{total: {{type: "decimal(14,2)"}}}}
"""


def test_a_materialization_from_json_or_yaml_is_stored_as_apply_stores_it(client, admin, tmp_path, capsys):
    register(client, admin)
    from_yaml = client.post(f"{API}/materializations", headers={**admin, "Content-Type": "application/yaml"},
                            content=MATERIALIZATION.encode())
    assert from_yaml.status_code == 200, from_yaml.text
    exported = client.get(f"{API}/materializations/semanal/export", headers=admin).text
    as_json = client.get(f"{API}/materializations/semanal", headers=admin).json()
    assert as_json == yaml.safe_load(exported)
    from_json = client.post(f"{API}/materializations", headers=admin, json=as_json)  # round trip: no change
    assert from_json.json()["yaml"] == exported == from_yaml.json()["yaml"]
    capsys.readouterr()
    assert main(["materializations", "export", "semanal"]) == 0
    assert capsys.readouterr().out == exported


@pytest.mark.parametrize("change, field", [
    (("strategy: delete_insert", "strategy: merge"), "materialization.tables.ventas.strategy"),
    (("delete_by: [semana]", "delete_by: [semanita]"), None),
    (("connection: warehouse", "connection: nada"), None),
    (("name: semanal", "name: semanal\n  colour: blue"), "materialization.colour"),
])
def test_a_bad_materialization_gets_applys_message_in_yaml_and_in_json(client, admin, tmp_path, capsys, change, field):
    register(client, admin)
    text = MATERIALIZATION.replace(*change)
    spec_file = tmp_path / "semanal.yaml"
    spec_file.write_text(text, encoding="utf-8")
    expected = cli_error(capsys, ["materializations", "apply", str(spec_file)]).replace(str(spec_file), "body")
    as_yaml = error_of(client.post(f"{API}/materializations", headers={**admin, "Content-Type": "text/yaml"},
                                   content=text.encode()), 400)
    as_json = error_of(client.post(f"{API}/materializations", headers=admin, json=yaml.safe_load(text)), 400)
    assert as_yaml["message"] == as_json["message"] == expected
    if field:
        assert as_yaml["field"] == field
    assert client.get(f"{API}/materializations", headers=admin).json() == []


def test_a_materialization_body_must_be_json_or_yaml(client, admin):
    for headers, body in (({"Content-Type": "application/xml"}, b"<m/>"), ({}, b"materialization: {}")):
        error = error_of(client.post(f"{API}/materializations", headers={**admin, **headers}, content=body), 400)
        assert error["message"].startswith("body: send the materialization as application/json or application/yaml")
    broken = error_of(client.post(f"{API}/materializations", headers={**admin, "Content-Type": "application/json"},
                                  content=b'{"materialization": '), 400)
    assert broken["message"].startswith("body, line 1: not valid JSON")
    deep = b'{"materialization": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for kind in ("application/json", "application/yaml"):
        error = error_of(client.post(f"{API}/materializations", headers={**admin, "Content-Type": kind}, content=deep), 400)
        assert error["message"].startswith("body")


# ------------------------------------------------------------------ runs, history, audit

def test_a_run_is_queued_in_the_dagster_instance_with_links_into_its_ui(client, admin, api_home, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("SAGE_DAGSTER_URL", "http://dagster.example:3000/")
    register_demo(api_home)
    landed = client.post(f"{API}/casillas/{CASILLA}/uploads", headers=admin,
                         files={"file": ("semana.zip", week_zip(tmp_path))}).json()["upload"]["id"]
    response = client.post(f"{API}/runs", headers=admin, json={"casilla": CASILLA, "tables": ["clientes"]})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["upload"] == landed and len(body["runs"]) == 1
    run = body["runs"][0]
    assert run["server"] == "local" and run["url"] == f"http://dagster.example:3000/runs/{run['run_id']}"
    assert [a["key"] for a in run["assets"]] == [["warehouse", CASILLA, "dim_clientes"]]
    assert run["assets"][0]["url"] == f"http://dagster.example:3000/assets/warehouse/{CASILLA}/dim_clientes"
    state = client.get(f"{API}/runs/{run['run_id']}", headers=admin).json()
    assert (state["status"], state["casilla"], state["upload"], state["server"]) == ("QUEUED", CASILLA, landed, "local")
    assert error_of(client.get(f"{API}/runs/no-such-run", headers=admin), 404)["message"].startswith("unknown run")
    assert error_of(client.post(f"{API}/runs", headers=admin, json={"casilla": "nada"}), 404)["message"].startswith(
        "unknown casilla 'nada'")
    assert error_of(client.post(f"{API}/runs", headers=admin, json={"casilla": CASILLA, "upload": "../x"}), 400)


def test_an_upload_with_run_queues_its_runs_and_the_landing_sensor_leaves_it_alone(client, admin, api_home, tmp_path):
    from dagster import DagsterInstance

    register_demo(api_home)
    body = client.post(f"{API}/casillas/{CASILLA}/uploads", headers=admin, data={"run": "true"},
                       files={"file": ("semana.zip", week_zip(tmp_path))}).json()
    upload = body["upload"]["id"]
    assert [r["server"] for r in body["runs"]] == ["local"]
    with DagsterInstance.get() as instance:  # the sensor skips uploads that already have their partition
        assert instance.has_dynamic_partition(f"uploads_{CASILLA}", upload)
        assert instance.get_run_by_id(body["runs"][0]["run_id"]).tags["sage/upload_id"] == upload


def test_history_lists_what_sage_history_lists(client, admin, api_home, capsys):
    with session_scope(api_home) as session:
        record_history(session, casilla=CASILLA, tabla="fact_ventas", destino="warehouse", upload_id="u1",
                       estado="failed", estrategia="upsert", error="ventas.csv, line 5: bad", dagster_run_id="r-1")
    rows = client.get(f"{API}/history?casilla={CASILLA}", headers=admin).json()
    assert [(r["table"], r["status"], r["error"], r["run_id"]) for r in rows] == [
        ("fact_ventas", "failed", "ventas.csv, line 5: bad", "r-1")]
    assert rows[0]["run_url"].endswith("/runs/r-1")
    assert error_of(client.get(f"{API}/history?casilla=nada", headers=admin), 404)["message"] == cli_error(
        capsys, ["history", "nada"])
