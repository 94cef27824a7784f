"""The Dagster instance of an installation: `$DAGSTER_HOME` (`ensure_dagster_home`) and the
settings that servers need, written into its `dagster.yaml`.

- Shared storage: remote workers record step events in the same Dagster instance as the run.
  With `SAGE_DAGSTER_PG_URL` set, the instance uses dagster-postgres (the URL is referenced as an
  environment variable, so no password lands in the file); without it, SQLite under
  DAGSTER_HOME, which only workers on the same host can share.
- One writer at a time where a destination needs it: a limit of 1 per value of each writer tag
  (`sage/file_writer`: a DuckDB file; `sage/table_writer`: a Hudi table), kept in every instance;
  and one run at a time per backfill (`dagster/backfill`), so a backfill's uploads apply in order.
- Capacity in the run queue: one `tag_concurrency_limits` entry per remote server
  (`sage/server: NAME`, limit = its capacity), so the QueuedRunCoordinator makes runs for a full
  server wait in Dagster's run queue instead of piling onto its broker queue. The daemon reads
  the file when it starts: restart `sage dev` after adding a server.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from sage_pipelines.destinations.base import WriterScope
from sage_pipelines.materialization.model import LOCAL_SERVER
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope, store_exists
from sage_pipelines.store.models import MaterializationServer

PG_URL_ENV = "SAGE_DAGSTER_PG_URL"
SERVER_TAG = "sage/server"  # the run tag naming a run's server (run-queue limits, history, monitor)
# The run tags naming what a run writes that takes one writer at a time (the kind's writer scope,
# from the destinations registry): the run queue runs one run per value of each.
WRITER_TAGS: dict[WriterScope, str] = {WriterScope.FILE: "sage/file_writer", WriterScope.TABLE: "sage/table_writer"}
# A backfill's runs (Dagster tags each with its backfill's id) go one at a time, in the order the
# backfill created them (its partitions' order: the order the uploads landed).
BACKFILL_TAG = "dagster/backfill"
LEGACY_WRITER_TAGS = ("sage/duckdb",)  # before writer scopes: replaced by sage/file_writer
REPO_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


def writer_limits() -> list[dict[str, Any]]:
    """One run at a time per value of each writer tag (per DuckDB file, per Hudi table) and per backfill."""
    return [{"key": key, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
            for key in (*WRITER_TAGS.values(), BACKFILL_TAG)]


def _storage_section() -> dict[str, Any] | None:
    if not os.environ.get(PG_URL_ENV):
        return None
    return {"postgres": {"postgres_url": {"env": PG_URL_ENV}}}


def _server_limits(home: SageHome) -> list[dict[str, Any]] | None:
    """(name, capacity) of every remote server, or None when the store is not there yet."""
    if not store_exists(home):
        return None
    try:
        with session_scope(home) as session:
            rows = session.execute(select(MaterializationServer.nombre, MaterializationServer.capacidad)
                                   .where(MaterializationServer.tipo != LOCAL_SERVER)
                                   .order_by(MaterializationServer.nombre)).all()
    except SQLAlchemyError:  # not migrated yet
        return None
    return [{"key": SERVER_TAG, "value": name, "limit": int(capacity)} for name, capacity in rows]


def configure_instance_yaml(path: Path, home: SageHome) -> bool:
    """Bring `path` (a dagster.yaml) in line with the store's servers and `SAGE_DAGSTER_PG_URL`.

    Returns True when the file changed. Other settings in the file are kept as they are.
    """
    config: dict[str, Any] = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}
    before = yaml.safe_dump(config, sort_keys=True)
    storage = _storage_section()
    if storage is not None:
        config["storage"] = storage
    elif config.get("storage") == {"postgres": {"postgres_url": {"env": PG_URL_ENV}}}:
        del config["storage"]  # back to SQLite under DAGSTER_HOME
    limits = _server_limits(home)
    if limits is not None and "run_coordinator" not in config:
        config["run_coordinator"] = {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator",
                                     "config": {}}
    coordinator = config.get("run_coordinator") or {}
    if coordinator.get("class") == "QueuedRunCoordinator":
        cfg = coordinator.setdefault("config", {}) or {}
        coordinator["config"] = cfg
        current = cfg.get("tag_concurrency_limits", []) or []
        managed = set(WRITER_TAGS.values()) | {BACKFILL_TAG} | set(LEGACY_WRITER_TAGS) | ({SERVER_TAG} if limits is not None else set())
        servers = limits if limits is not None else []
        wanted = [x for x in current if x.get("key") not in managed] + writer_limits() + servers
        if wanted != current:
            cfg["tag_concurrency_limits"] = wanted
    if yaml.safe_dump(config, sort_keys=True) == before and path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text("# Managed in part by sage (storage, sage/server and writer run limits); other keys are kept.\n"
                   + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)
    return True


def ensure_dagster_home(home: SageHome) -> Path:
    """The Dagster instance directory, with our dagster.yaml, exported as DAGSTER_HOME."""
    dagster_home = home.dagster_home
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    if not target.exists() and REPO_DAGSTER_YAML.exists():
        shutil.copyfile(REPO_DAGSTER_YAML, target)
    configure_instance_yaml(target, home)  # PostgreSQL storage (SAGE_DAGSTER_PG_URL), per-server run limits
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    os.environ["SAGE_HOME"] = str(home.root)
    return dagster_home


def sync_instance_limits(home: SageHome) -> Path:
    """Re-write the instance's dagster.yaml after servers changed; returns DAGSTER_HOME."""
    return ensure_dagster_home(home)  # which calls configure_instance_yaml
