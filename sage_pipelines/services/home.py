"""An installation's home: what `sage init` does, and the check every other command makes first.

`init_home` creates `$SAGE_HOME`, migrates the store, creates the secret key and registers the
built-in destinations every installation has: connection `warehouse` (a DuckDB file in
SAGE_HOME) and lake `lake` (a local directory with a SQLite Iceberg catalog inside it). All of
it is idempotent, and the built-ins are re-pointed at the current SAGE_HOME paths when the home
directory moved.
"""

from __future__ import annotations

from sage_pipelines.crypto import ensure_key
from sage_pipelines.errors import SageError
from sage_pipelines.services.lakes import CATALOG_FILE
from sage_pipelines.settings import SageHome
from sage_pipelines.store.audit import audit
from sage_pipelines.store.db import migrate, session_scope, store_exists
from sage_pipelines.store.lookup import find_named
from sage_pipelines.store.models import DatabaseConnection, DbSecret, Lake

WAREHOUSE = "warehouse"
LAKE = "lake"


def init_home(home: SageHome | None = None) -> SageHome:
    """Create `$SAGE_HOME`, migrate its store, create the secret key (0600) and register the
    built-in connection `warehouse` and lake `lake`. Idempotent."""
    home = home or SageHome.from_env()
    for d in (home.root, home.landing, home.lake_path, home.dagster_home):
        d.mkdir(parents=True, exist_ok=True)
    migrate(home.store_url)
    ensure_key(home)
    register_builtins(home)
    return home


def ready_home(home: SageHome | None = None) -> SageHome:
    """`home` (default: $SAGE_HOME), refusing (one line) when `sage init` has not created its store."""
    home = home or SageHome.from_env()
    if not store_exists(home):
        raise SageError(f"{home.root} is not initialised: run `sage init` first")
    return home


def register_builtins(home: SageHome | None = None) -> None:
    """Create (or re-point) the DuckDB secret + connection `warehouse` and the lake `lake`."""
    home = home or SageHome.from_env()
    warehouse_file = str(home.warehouse_path)
    lake_uri = home.lake_path.as_uri()
    catalog_uri = f"sqlite:///{home.lake_path / CATALOG_FILE}"
    home.lake_path.mkdir(parents=True, exist_ok=True)
    with session_scope(home) as session:
        secret = find_named(session, DbSecret, WAREHOUSE)
        if secret is None:
            secret = DbSecret(nombre=WAREHOUSE, tipo="duckdb", opciones={})
            session.add(secret)
        if secret.tipo == "duckdb" and secret.basedatos != warehouse_file:  # never hijack a user's secret
            secret.basedatos = warehouse_file
            audit(session, "builtin.secret", f"secret:{WAREHOUSE}", basedatos=warehouse_file)
        session.flush()

        conn = find_named(session, DatabaseConnection, WAREHOUSE)
        if conn is None:
            session.add(DatabaseConnection(nombre=WAREHOUSE, secret_id=secret.id))
            audit(session, "builtin.connection", f"connection:{WAREHOUSE}", secret=WAREHOUSE)

        lake = find_named(session, Lake, LAKE)
        if lake is None:
            lake = Lake(nombre=LAKE, opciones={})
            session.add(lake)
        if lake.warehouse is None or (lake.warehouse.startswith("file:") and
                                      (lake.warehouse, lake.catalog_uri) != (lake_uri, catalog_uri)):
            lake.warehouse, lake.catalog_uri = lake_uri, catalog_uri
            audit(session, "builtin.lake", f"lake:{LAKE}", warehouse=lake_uri, catalog_uri=catalog_uri)
