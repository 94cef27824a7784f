"""The Dagster UI as a data engineer reads it, on a home like the demo's, through the running
webserver: the casilla files as source assets upstream of the tables, asset checks, honest
metadata (the table's row count, its full name and URI), a duplicate key caught by its check;
and screenshots of the asset graph and an asset page in Debian's chromium.

One webserver serves the whole module: the demo's three weeks, plus a materialization `append`
with a primary key (`dup_clientes`) fed weeks 1 and 2, whose customers overlap.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sage_pipelines.cli import main as sage_main
from sage_pipelines.demo import run_demo
from sage_pipelines.orchestration.run import RunOutcome, materialize_upload
from sage_pipelines.services.materializations import apply_materialization
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines_tests.orchestration_fixtures import running_webserver
from sage_pipelines_tests.servers_fixtures import scoped_env
from sage_pipelines_tests.test_webserver import free_port, graphql

pytestmark = pytest.mark.slow

CASILLA = "ventas_semanales"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"

APPEND_WITH_KEY = """\
materialization:
  name: clientes_log
  casilla: ventas_semanales
  destinations:
    warehouse: {connection: warehouse}
  tables:
    clientes:
      table: dup_clientes
      primary_key: [codigo_cliente]
      strategy: append
"""

METADATA = """metadataEntries { label
  ... on IntMetadataEntry { intValue }
  ... on TextMetadataEntry { text }
  ... on PathMetadataEntry { path }
  ... on UrlMetadataEntry { url }
  ... on JsonMetadataEntry { jsonString }
  ... on MarkdownMetadataEntry { mdStr } }"""

GRAPH = """{ assetNodes {
  assetKey { path } groupName kinds description isObservable isMaterializable %s
  dependencyKeys { path }
  partitionDefinition { name }
  assetChecksOrError { ... on AssetChecks { checks { name blocking description
    executionForLatestMaterialization { status partition evaluation { success %s } } } } }
  assetMaterializations(limit: 1) { partition %s }
  assetObservations(limit: 10) { partition %s }
} }""" % (METADATA, METADATA, METADATA, METADATA)


@dataclass
class Scene:
    home: SageHome
    port: int
    first: RunOutcome  # dup_clientes, week 1: every key once
    second: RunOutcome  # dup_clientes, week 2: 300 customers again


def values(entries: list[dict]) -> dict[str, Any]:
    """GraphQL metadata entries as {label: value}."""
    out = {}
    for e in entries:
        value = next((e[k] for k in ("intValue", "text", "path", "url", "mdStr") if k in e), None)
        out[e["label"]] = json.loads(e["jsonString"]) if "jsonString" in e else value
    return out


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    with scoped_env():
        root = tmp_path_factory.mktemp("lineage") / "sage_home"
        os.environ["SAGE_HOME"] = str(root)
        os.environ["DAGSTER_HOME"] = str(root / "dagster")
        os.environ.pop("SAGE_STORE_URL", None)
        home = SageHome(root)
        run_demo(home, echo=lambda _: None)
        with session_scope(home) as session:
            apply_materialization(session, APPEND_WITH_KEY, "clientes_log.yaml")
        first = materialize_upload(CASILLA, "semana-01", tables=["dup_clientes"], home=home)
        second = materialize_upload(CASILLA, "semana-02", tables=["dup_clientes"], home=home)
        with running_webserver(home, free_port()) as port:
            yield Scene(home, port, first, second)


@pytest.fixture(scope="module")
def nodes(scene) -> dict[str, dict]:
    data = graphql(scene.port, GRAPH)
    assert "errors" not in data, data.get("errors")
    return {"/".join(n["assetKey"]["path"]): n for n in data["data"]["assetNodes"]}


def test_each_casilla_file_is_an_observable_source_asset_partitioned_by_upload(nodes):
    for catalog in ("clientes", "productos", "ventas"):
        node = nodes[f"{CASILLA}/{catalog}"]
        assert node["isMaterializable"] is False  # external: observed when an upload lands, never written by us
        assert node["partitionDefinition"]["name"] == f"uploads_{CASILLA}"
        assert node["kinds"] == ["csv"] and node["groupName"] == CASILLA
    ventas = nodes[f"{CASILLA}/ventas"]
    observed = {o["partition"]: values(o["metadataEntries"]) for o in ventas["assetObservations"]}
    assert set(observed) == {"semana-01", "semana-02", "semana-03"}
    assert observed["semana-03"]["dagster/row_count"] == 2000
    assert observed["semana-02"]["dagster/row_count"] == 3800  # week 1 re-sent (1,800) + week 2
    assert len(observed["semana-03"]["sha256"]) == 64 and observed["semana-03"]["bytes"] > 0


def test_the_graph_leads_from_each_file_to_the_tables_it_feeds(nodes):
    deps = {key: ["/".join(d["path"]) for d in n["dependencyKeys"]] for key, n in nodes.items()}
    assert deps[f"warehouse/{CASILLA}/dim_clientes"] == [f"{CASILLA}/clientes"]
    assert deps[f"warehouse/{CASILLA}/fact_ventas"] == [f"{CASILLA}/ventas"]
    assert deps[f"lake/{CASILLA}/lake.fact_ventas"] == [f"{CASILLA}/ventas"]
    assert nodes[f"warehouse/{CASILLA}/fact_ventas"]["kinds"] == ["duckdb"]
    assert nodes[f"lake/{CASILLA}/lake.fact_ventas"]["kinds"] == ["iceberg"]
    assert nodes[f"warehouse/{CASILLA}/fact_ventas"]["description"].startswith("fact_ventas in warehouse (duckdb)")


def test_the_table_spec_reads_as_a_table_of_columns_not_a_json_blob(nodes):
    spec = values(nodes[f"warehouse/{CASILLA}/fact_ventas"]["metadataEntries"])["table_spec"]
    assert spec.startswith("**fact_ventas**, strategy `delete_insert`")
    assert "| id_venta | text | primary key |" in spec and "| semana | integer | delete_by |" in spec


def test_a_tables_row_count_is_what_it_holds_and_the_uploads_figures_have_their_own_keys(nodes):
    for key in (f"warehouse/{CASILLA}/fact_ventas", f"lake/{CASILLA}/lake.fact_ventas"):
        [latest] = nodes[key]["assetMaterializations"]
        meta = values(latest["metadataEntries"])
        assert latest["partition"] == "semana-03"
        assert meta["dagster/row_count"] == 5800  # three weeks in the table
        assert (meta["rows_in_upload"], meta["inserted"], meta["deleted"]) == (2000, 2000, 0)
    warehouse = values(nodes[f"warehouse/{CASILLA}/fact_ventas"]["assetMaterializations"][0]["metadataEntries"])
    assert warehouse["dagster/table_name"] == "warehouse.main.fact_ventas"
    assert warehouse["dagster/uri"].endswith("warehouse.duckdb")
    lake = values(nodes[f"lake/{CASILLA}/lake.fact_ventas"]["assetMaterializations"][0]["metadataEntries"])
    assert lake["dagster/table_name"] == f"lake.{CASILLA}.fact_ventas"
    assert lake["dagster/uri"].startswith("file://") and lake["dagster/uri"].endswith("fact_ventas")


def test_every_table_carries_blocking_checks_that_passed_on_the_demo(nodes):
    checks = {c["name"]: c for c in nodes[f"warehouse/{CASILLA}/fact_ventas"]["assetChecksOrError"]["checks"]}
    assert set(checks) == {"primary_key_not_null", "primary_key_unique", "required_not_null", "rows_reconcile"}
    for check in checks.values():
        assert check["blocking"] is True
        execution = check["executionForLatestMaterialization"]
        assert (execution["status"], execution["partition"], execution["evaluation"]["success"]) == (
            "SUCCEEDED", "semana-03", True)
    reconcile = values(checks["rows_reconcile"]["executionForLatestMaterialization"]["evaluation"]["metadataEntries"])
    assert reconcile["rows_in_upload"] == reconcile["written"] == 2000


def test_a_duplicate_key_slipped_in_by_append_fails_its_check_with_the_offending_values(scene, nodes):
    assert scene.first.success, scene.first.errors
    assert not scene.second.success  # the blocking check failed the step
    assert scene.second.errors == [f"warehouse/{CASILLA}/dup_clientes: the table was written, but its blocking "
                                   f"check(s) primary_key_unique failed (the offending values: `sage history "
                                   f"{CASILLA}` or the asset's Checks tab)"]
    node = nodes[f"warehouse/{CASILLA}/dup_clientes"]
    assert [d["path"] for d in node["dependencyKeys"]] == [[CASILLA, "clientes"]]
    checks = {c["name"]: c["executionForLatestMaterialization"] for c in node["assetChecksOrError"]["checks"]}
    unique = checks["primary_key_unique"]
    assert (unique["status"], unique["partition"], unique["evaluation"]["success"]) == ("FAILED", "semana-02", False)
    meta = values(unique["evaluation"]["metadataEntries"])
    assert meta["offending"] == 300  # week 2 sends 300 known customers again
    first = meta["first_offending_values"]
    assert len(first) == 5 and first[0] == {"codigo_cliente": "000001", "rows": 2}
    assert checks["primary_key_not_null"]["evaluation"]["success"] is True
    assert checks["rows_reconcile"]["evaluation"]["success"] is True  # append wrote what came: the key is the fault
    [latest] = node["assetMaterializations"]
    assert values(latest["metadataEntries"]).get("dagster/row_count") == 300 + 330, [e["label"] for e in latest["metadataEntries"]]  # duplicates included


def test_sage_history_shows_the_failed_check_and_its_first_offender(scene, capsys):
    assert sage_main(["history", CASILLA, "--limit", "50"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if " dup_clientes " in line]
    assert len(lines) == 2
    assert "primary_key_unique failed: 300 e.g. codigo_cliente=000001, rows=2" in lines[0]
    assert "semana-01" in lines[1] and "4/4 passed" in lines[1]


def settle(page, sync_api) -> None:
    """Wait for the UI's queries to finish, and close the first-visit community dialog if shown."""
    page.wait_for_load_state("networkidle")
    try:
        page.get_by_role("button", name="Skip").click(timeout=3_000)
    except sync_api.TimeoutError:
        pass  # not shown on this page
    sync_api.expect(page.get_by_text(re.compile(r"^Loading"))).to_have_count(0, timeout=60_000)
    page.wait_for_load_state("networkidle")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium missing: scripts/services.sh installs it")
def test_screenshots_of_the_asset_graph_and_an_asset_page(scene, nodes):
    """Saved under test-artifacts/screenshots/: the lineage from the casilla files to the tables,
    a table's page, and the failed key check with its offending values."""
    sync_api = pytest.importorskip("playwright.sync_api")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{scene.port}"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1800, "height": 1300})
            page.goto(f"{base}/asset-groups")
            settle(page, sync_api)
            for title in ("dim_clientes", "fact_ventas", "lake.fact_ventas", "clientes", "ventas"):
                assert page.get_by_text(title, exact=True).count() >= 1, title
            page.screenshot(path=str(SCREENSHOTS / "lineage_asset_graph.png"), full_page=True)

            page.goto(f"{base}/assets/warehouse/{CASILLA}/fact_ventas")
            settle(page, sync_api)
            page.screenshot(path=str(SCREENSHOTS / "lineage_asset_page.png"), full_page=True)
            assert page.get_by_text("warehouse.main.fact_ventas").count() >= 1  # Storage: the full name

            page.goto(f"{base}/assets/warehouse/{CASILLA}/dup_clientes?view=checks")
            settle(page, sync_api)
            page.get_by_text("primary_key_unique").first.click()
            settle(page, sync_api)
            assert page.get_by_text("first_offending_values").count() >= 1
            page.screenshot(path=str(SCREENSHOTS / "lineage_failed_check.png"), full_page=True)
        finally:
            browser.close()
