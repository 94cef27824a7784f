"""Run a casilla's upload now, through Dagster's own execution API, and wait.

`sage materialize`, the demo and the tests all come through `materialize_upload`: it makes the
upload a partition, selects the assets asked for, executes the casilla's job with
`execute_job` on a reconstructable job (so the same path works for remote executors), and
returns what each asset wrote or why the run failed.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import AssetKey, DagsterEventType, DagsterInstance, build_reconstructable_job, execute_job

from sage_pipelines.errors import ConfigError, SageError
from sage_pipelines.orchestration.naming import asset_key, job_name, partitions_name
from sage_pipelines.settings import SageHome
from sage_pipelines.store.uploads import latest_upload

REPO_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


@dataclass
class AssetOutcome:
    key: list[str]
    metadata: dict[str, Any]


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    upload_id: str
    assets: list[AssetOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def ensure_dagster_home(home: SageHome) -> Path:
    """The Dagster instance directory, with our dagster.yaml, exported as DAGSTER_HOME."""
    dagster_home = home.dagster_home
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    if not target.exists() and REPO_DAGSTER_YAML.exists():
        shutil.copyfile(REPO_DAGSTER_YAML, target)
    from sage_pipelines.servers.instance import configure_instance_yaml

    configure_instance_yaml(target, home)  # PostgreSQL storage (SAGE_DAGSTER_PG_URL), per-server run limits
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    os.environ["SAGE_HOME"] = str(home.root)
    return dagster_home


def _selection(plans: list, casilla: str, tables: list[str] | None, destinations: list[str] | None) -> list[AssetKey]:
    keys = []
    known_tables: set[str] = set()
    known_dests: set[str] = set()
    for plan in plans:
        if plan.casilla != casilla:
            continue
        for t in plan.tables:
            names = {t.catalog_key, t.spec.name, t.spec.qualified_name}
            known_tables |= names
            known_dests.add(t.destination.alias)
            if tables and not names & set(tables):
                continue
            if destinations and t.destination.alias not in destinations:
                continue
            keys.append(asset_key(t.destination.alias, casilla, t.catalog_key))
    if not known_dests:
        raise ConfigError(f"casilla {casilla!r} has no materialization (apply one with `sage materializations apply`)")
    for t in tables or []:
        if t not in known_tables:
            raise ConfigError(f"casilla {casilla!r}: unknown table {t!r} (known: {', '.join(sorted(known_tables))})")
    for d in destinations or []:
        if d not in known_dests:
            raise ConfigError(f"casilla {casilla!r}: unknown destination {d!r} (known: {', '.join(sorted(known_dests))})")
    if not keys:  # each name exists, but no table goes to the destinations asked for
        raise ConfigError(f"casilla {casilla!r}: no table among {', '.join(tables or [])} is materialized "
                          f"to {', '.join(destinations or [])}")
    return keys


def root_cause(error: Any) -> str:
    """The innermost message of a Dagster SerializableErrorInfo chain (the user's SageError),
    without the exception's class path when it is one of ours (its message says it all)."""
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    if not error.message:
        return error.cls_name or "error"
    line = error.message.strip().splitlines()[-1]
    if error.cls_name in _sage_error_names() and ": " in line:
        line = line.split(": ", 1)[1]
    return line


def _sage_error_names() -> set[str]:
    names, todo = set(), [SageError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names


def materialize_upload(casilla: str, upload_id: str | None = None, tables: list[str] | None = None,
                       destinations: list[str] | None = None, home: SageHome | None = None,
                       run_config: dict | None = None, tags: dict[str, str] | None = None,
                       server: str = "auto", log_level: str = "WARNING",
                       asset_keys: list[AssetKey] | None = None) -> RunOutcome:
    """`server="auto"`: the balancer groups the steps into one run per server (routing.py)."""
    home = home or SageHome.from_env()
    ensure_dagster_home(home)
    if server == "auto":
        from sage_pipelines.orchestration.routing import materialize_routed

        return materialize_routed(casilla, upload_id, tables, destinations, home, run_config, tags,
                                  log_level=log_level)
    from sage_pipelines.spec.plan import load_plans
    from sage_pipelines.store.db import session_scope

    with session_scope(home) as session:
        plans = load_plans(session)
    selection = asset_keys if asset_keys is not None else _selection(plans, casilla, tables, destinations)
    upload_id = upload_id or latest_upload(home, casilla)
    if not home.upload_dir(casilla, upload_id).is_dir():
        raise ConfigError(f"casilla {casilla!r} has no upload {upload_id!r}")

    instance = DagsterInstance.get()
    try:
        if not instance.has_dynamic_partition(partitions_name(casilla), upload_id):
            instance.add_dynamic_partitions(partitions_name(casilla), [upload_id])
        job = build_reconstructable_job("sage_pipelines.orchestration.jobs", "load_job",
                                        reconstructable_args=(job_name(casilla, server),),
                                        reconstructor_working_directory=os.getcwd())
        run_tags = {"dagster/partition": upload_id, "sage/casilla": casilla, "sage/upload_id": upload_id,
                    "sage/server": server, **(tags or {})}
        config = {"loggers": {"console": {"config": {"log_level": log_level}}}, **(run_config or {})}
        with execute_job(job, instance, run_config=config, tags=run_tags,
                         asset_selection=selection) as result:
            outcome = RunOutcome(run_id=result.run_id, success=result.success, upload_id=upload_id)
            for event in result.all_events:
                if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                    mat = event.event_specific_data.materialization
                    outcome.assets.append(AssetOutcome(list(mat.asset_key.path),
                                                       {k: v.value for k, v in mat.metadata.items()}))
                elif event.event_type == DagsterEventType.STEP_FAILURE:
                    outcome.errors.append(f"{event.step_key}: {root_cause(event.event_specific_data.error)}")
                elif event.event_type == DagsterEventType.RUN_FAILURE and not outcome.errors:
                    error = getattr(event.event_specific_data, "error", None)  # e.g. a remote server's fault
                    if error is not None:
                        outcome.errors.append(root_cause(error))
            return outcome
    finally:
        instance.dispose()


def raise_for_failure(outcome: RunOutcome) -> RunOutcome:
    if not outcome.success:
        raise SageError(f"run {outcome.run_id} failed: " + "; ".join(outcome.errors or ["see the Dagster UI"]))
    return outcome
