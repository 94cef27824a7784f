"""`sage materialize` end to end (Dagster included) on the SQL benchmark's files.

A throwaway SAGE_HOME gets a PostgreSQL secret and connection, the benchmark's casilla and an
upsert materialization; the base file is materialized first (untimed), then the upload is timed
from `materialize_upload` to the committed table — reading, Dagster's run and step machinery,
the write, history and metadata — to sit beside the raw floor in the same table.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

from sage_pipelines.orchestration.run import materialize_upload, raise_for_failure
from sage_pipelines.services.casillas import register_casilla
from sage_pipelines.services.connections import add_connection
from sage_pipelines.services.home import init_home
from sage_pipelines.services.materializations import apply_materialization
from sage_pipelines.services.secrets import add_secret
from sage_pipelines.services.uploads import add_upload
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope

MATERIALIZATION = """
materialization:
  name: bench_e2e
  casilla: bench_ventas
  destinations:
    pg: {{connection: bench_pg}}
  tables:
    ventas:
      table: {schema}.bench_e2e
      primary_key: [id_venta]
      strategy: upsert
      columns: {{precio: {{type: "decimal(12,2)"}}, total: {{type: "decimal(14,2)"}}}}
"""


def prepare_home(root: Path, pg_url: str, sage_yaml: str, schema: str) -> SageHome:
    """A SAGE_HOME at `root` with the PostgreSQL connection, the casilla and its upsert
    materialization into `schema`.bench_e2e."""
    url = urlparse(pg_url)
    home = init_home(SageHome(root))
    with session_scope(home) as s:
        add_secret(s, "bench_pg", "postgresql", host=url.hostname, port=url.port or 5432,
                   user=url.username, database=url.path.lstrip("/"), home=home)
    with session_scope(home) as s:
        add_connection(s, "bench_pg", "bench_pg")
    with session_scope(home) as s:
        register_casilla(s, "bench_ventas", sage_yaml, "bench.yaml")
    with session_scope(home) as s:
        apply_materialization(s, MATERIALIZATION.format(schema=schema), "bench_e2e.yaml")
    return home


def new_upload(home: SageHome, path: Path) -> str:
    """Land `path` as an upload of the bench casilla (what `sage upload` does); its id."""
    with session_scope(home) as s:
        return add_upload(s, home, "bench_ventas", path).id


def drop_schema(pg_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # generated name


def materialize_seconds(pg_url: str, sage_yaml: str, base: Path, upload: Path) -> float:
    schema = f"sage_bench_e2e_{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory(prefix="sage_bench_home_") as tmp:
        home = prepare_home(Path(tmp), pg_url, sage_yaml, schema)
        ids = [new_upload(home, path) for path in (base, upload)]
        try:
            raise_for_failure(materialize_upload("bench_ventas", ids[0], home=home))
            started = time.perf_counter()
            raise_for_failure(materialize_upload("bench_ventas", ids[1], home=home))
            return time.perf_counter() - started
        finally:
            drop_schema(pg_url, schema)
