"""The console as a new user walks it, in a real browser against a real `sage serve`.

Debian's chromium (installed by scripts/services.sh; Playwright never downloads a browser)
drives the pages of a fresh SAGE_HOME: log in with an admin token from `sage tokens create`,
add a PostgreSQL secret and connection and test it, register the demo casilla, propose its
materialization from a sample ZIP, pick the PostgreSQL connection, save, upload the ZIP, wait
for its run (queued by the console, launched by the daemon of `sage dev`, whose UI the links
open), and read the rows back from PostgreSQL. Every page is saved as a screenshot under
test-artifacts/screenshots/.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from contextlib import redirect_stdout
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import yaml

from sage_pipelines.cli import main
from sage_pipelines.demo import DEMO_DIR
from sage_pipelines.demo.data import write_week
from sage_pipelines_tests.conftest import PG_URL

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
CANARY = "canary-Pw-7f3a1c-never-shown"
RUN_TIMEOUT_MS = 120_000

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="chromium missing: scripts/services.sh installs it (make test)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sage(*args: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(list(args)) == 0, f"sage {' '.join(args)} failed"
    return out.getvalue()


def start(args: list[str], log_path: Path, env: dict[str, str], ready_url: str) -> subprocess.Popen:
    """`sage ARGS` in its own process group, once `ready_url` answers."""
    log = open(log_path, "w+")
    proc = subprocess.Popen([sys.executable, "-m", "sage_pipelines.cli", *args], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(ready_url, timeout=2)
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                log.seek(0)
                raise RuntimeError(f"sage {args[0]} did not start: {log.read()[-2000:]}")
            time.sleep(0.5)


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


@pytest.fixture
def console(sage_home: Path):
    """A fresh, initialised SAGE_HOME with `sage dev` (Dagster UI + daemon) and `sage serve` on free
    ports; yields (console URL, Dagster UI URL, admin token)."""
    sage("init")
    sage("users", "add", "ana", "--role", "admin")
    token = sage("tokens", "create", "ana").strip()
    dagster = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "SAGE_DAGSTER_URL": dagster}
    env.pop("DAGSTER_HOME", None)  # `sage dev` sets it to $SAGE_HOME/dagster, as `sage serve` does
    dev = start(["dev", "--port", dagster.rsplit(":", 1)[1]], sage_home / "dev.log", env, f"{dagster}/server_info")
    try:
        port = free_port()
        serve = start(["serve", "--port", str(port), "--log-level", "warning"], sage_home / "serve.log", env,
                      f"http://127.0.0.1:{port}/login")
        try:
            yield f"http://127.0.0.1:{port}", dagster, token
        finally:
            stop(serve)
    finally:
        stop(dev)


@pytest.fixture
def page():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1366, "height": 900})
        finally:
            browser.close()


@pytest.fixture
def week_zip(tmp_path: Path) -> Path:
    """The demo casilla's week 1 as the ZIP package a distributor sends."""
    folder = write_week(tmp_path / "semana_01", 1)
    path = tmp_path / "semana_01.zip"
    with zipfile.ZipFile(path, "w") as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f.name)
    return path


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def csv_rows(zip_path: Path, member: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(zip_path) as z:
        return list(csv.DictReader(io.TextIOWrapper(z.open(member), encoding="utf-8")))


@pytest.mark.slow
def test_a_new_user_materializes_a_casilla_into_postgresql_from_the_console(console, page, pg_schema, week_zip,
                                                                            sage_home):
    base, dagster, token = console
    expect = sync_api.expect

    # Log in with the admin token.
    page.goto(f"{base}/connections")
    expect(page).to_have_url(f"{base}/login?next=/connections")
    shot(page, "01_login")
    page.fill("#f-token", token)
    page.click("form[action='/login'] button")
    expect(page).to_have_url(f"{base}/connections")
    expect(page.locator(".banner.ok")).to_contain_text("logged in as ana (admin)")

    # A secret (the password goes in, and never comes back out) and a connection, tested.
    form = page.locator("#add-secret")
    form.locator("[name=name]").fill("pg_local")
    form.locator("[name=type]").select_option("postgresql")
    form.locator("[name=host]").fill("127.0.0.1")
    form.locator("[name=port]").fill("5432")
    form.locator("[name=user]").fill("postgres")
    form.locator("[name=database]").fill(PG_URL.rsplit("/", 1)[1])
    form.locator("[name=password]").fill(CANARY)
    form.locator("button").click()
    expect(page.locator("#secret-pg_local")).to_contain_text("********")
    assert CANARY not in page.content()
    form = page.locator("#connection-form")
    form.locator("[name=conn_name]").fill("analytics")
    form.locator("[name=conn_secret]").select_option("pg_local")
    form.locator("[name=conn_schema]").fill(pg_schema)
    form.locator("button").click()
    page.locator("#connection-analytics button:has-text('Test')").click()
    expect(page.locator("#connection-analytics .test-result")).to_contain_text("ok")
    expect(page.locator(".banner.ok")).to_contain_text("connection analytics: ok in")
    shot(page, "02_secrets_and_connections")

    # A secret in use cannot be removed: the refusal shows on its row.
    page.locator("#secret-pg_local button:has-text('Remove')").click()
    expect(page.locator("[data-error-for='secret:pg_local']")).to_contain_text("used by connection analytics")
    shot(page, "03_secret_in_use")

    page.goto(f"{base}/lakes")
    expect(page.locator("table")).to_contain_text("lake")
    shot(page, "04_lakes")
    page.goto(f"{base}/servers")
    expect(page.locator("#server-local")).to_contain_text("online")
    shot(page, "05_servers")

    # Register the casilla from its SAGE YAML; its page lists the catalogs.
    page.goto(f"{base}/casillas")
    page.fill("#f-name", "ventas_semanales")
    page.set_input_files("#f-yaml", str(DEMO_DIR / "ventas_semanales.yaml"))
    page.click("form[action='/casillas'] button")
    expect(page).to_have_url(f"{base}/casillas/ventas_semanales")
    for catalog in ("clientes", "productos", "ventas"):
        expect(page.locator(f"#catalog-{catalog}")).to_be_visible()
    shot(page, "06_casilla")

    # Materialize: proposals from the sample ZIP, the PostgreSQL connection picked, saved.
    page.click("#materialize")
    expect(page.locator("#origin")).to_contain_text("No upload yet")
    shot(page, "07_materialization_from_the_sage_yaml")
    page.set_input_files("[name=sample]", str(week_zip))
    page.click("text=Propose from this sample")
    expect(page.locator("#origin")).to_contain_text("semana_01.zip")
    assert page.input_value("[name='tables.ventas.primary_key']") == "id_venta"
    assert page.input_value("[name='tables.clientes.columns.limite_credito']") == "decimal(10,2)"
    shot(page, "08_materialization_proposals")
    page.check("#use-connection\\.analytics")
    page.click("#save")
    expect(page.locator(".banner.ok")).to_contain_text("materialization ventas_semanales saved")
    exported = page.inner_text("#exported")
    assert exported.strip() == sage("materializations", "export", "ventas_semanales").strip()
    stored = yaml.safe_load(exported)["materialization"]
    assert stored["destinations"] == {"analytics": {"connection": "analytics"}}
    assert stored["tables"]["ventas"]["primary_key"] == ["id_venta"]
    shot(page, "09_materialization_saved")

    # Upload the ZIP; its run starts and the page follows it to the end.
    page.goto(f"{base}/uploads?casilla=ventas_semanales")
    page.set_input_files("#f-file", str(week_zip))
    page.click("#upload-form button")
    expect(page.locator(".banner.ok")).to_contain_text("1 run(s) queued")
    shot(page, "10_upload_landed")
    expect(page.locator("#runs .run-status")).to_contain_text("SUCCESS", timeout=RUN_TIMEOUT_MS)
    run_link = page.locator(f"#runs a[href^='{dagster}/runs/']")
    assert run_link.count() == 1
    assert page.locator(f"a[href^='{dagster}/assets/analytics/ventas_semanales/']").count() == 3
    assert urllib.request.urlopen(run_link.get_attribute("href"), timeout=10).status == 200  # the Dagster UI answers
    shot(page, "11_upload_materialized")

    page.goto(f"{base}/history")
    expect(page.locator("table.history")).to_contain_text(f"{pg_schema}.ventas")
    shot(page, "12_history")
    page.goto(f"{base}/audit")
    expect(page.locator("table")).to_contain_text("materialization.apply")
    shot(page, "13_audit")

    # The rows are in PostgreSQL, exactly as sent.
    sent = csv_rows(week_zip, "clientes.csv")
    with psycopg.connect(PG_URL) as conn:
        counts = {t: conn.execute(f'SELECT count(*) FROM "{pg_schema}"."{t}"').fetchone()[0]
                  for t in ("clientes", "productos", "ventas")}
        first = conn.execute(f'SELECT codigo_cliente, limite_credito FROM "{pg_schema}".clientes '
                             "WHERE codigo_cliente = %s", (sent[0]["codigo_cliente"],)).fetchone()
    assert counts == {"clientes": len(sent), "productos": len(csv_rows(week_zip, "productos.csv")),
                      "ventas": len(csv_rows(week_zip, "ventas.csv"))}
    assert first == (sent[0]["codigo_cliente"], Decimal(sent[0]["limite_credito"]))

    # The password went nowhere in plaintext: not the store, not the server's log.
    for store_file in sage_home.glob("sage.db*"):
        assert CANARY.encode() not in store_file.read_bytes()
    assert CANARY not in (sage_home / "serve.log").read_text()
