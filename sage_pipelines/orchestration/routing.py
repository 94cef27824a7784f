"""Routing an upload's steps to servers: one Dagster run per chosen server.

The balancer decides per step (asset) from the size of the upload file the step materializes;
the steps of one upload that go to the same server become one run of that server's job:
- `local`: the casilla's in-process job (`materialize_<casilla>`), no broker involved;
- a remote server: `materialize_<casilla>__<server>`, the same assets with the `sage_server`
  executor (dagster-celery on the server's queue; see `servers/executor.py`).
Each run carries the tags `sage/server` and `sage/server_reason`; the IO managers copy them into
history (`servidor_id`, `razon_servidor`) and the step's output metadata, and the instance's
run queue limits runs per `sage/server` value to the server's capacity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dagster import AssetKey, AssetSelection, RunRequest, define_asset_job
from sqlalchemy import select

from sage_pipelines.materialization.model import LOCAL_SERVER
from sage_pipelines.materialization.plan import load_plans
from sage_pipelines.orchestration.assets import find_member
from sage_pipelines.orchestration.io_managers import SERVER_REASON_TAG
from sage_pipelines.orchestration.naming import table_key, dagster_name, job_name
from sage_pipelines.servers.balancer import Decision, Policy, ServerState, assign_steps
from sage_pipelines.servers.executor import LOST_AFTER_SECONDS, server_executor
from sage_pipelines.servers.health import live_states, stored_states
from sage_pipelines.servers.instance import SERVER_TAG
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope, store_exists
from sage_pipelines.store.models import MaterializationServer

LOST_AFTER_ENV = "SAGE_WORKER_LOST_SECONDS"
MAX_REASON = 900


# --------------------------------------------------------------------------- jobs

def server_job(casilla: str, server: str, tags: dict[str, str] | None = None):
    """The casilla's assets on remote server `server` (dagster-celery on the server's queue);
    `tags`: the casilla's writer tags (`jobs.writer_tags`), so remote runs queue like local ones."""
    lost_after = float(os.environ.get(LOST_AFTER_ENV, LOST_AFTER_SECONDS))
    return define_asset_job(
        name=job_name(casilla, server),
        selection=AssetSelection.groups(dagster_name(casilla)),
        executor_def=server_executor.configured({"server": server, "lost_after_seconds": lost_after},
                                                name=f"sage_server_{dagster_name(server)}"),
        tags={**(tags or {}), SERVER_TAG: server},
        description=f"Materialize uploads of casilla {casilla} on remote server {server} (Celery queue {server!r})",
    )


def remote_servers(home: SageHome) -> list[str]:
    """Names of the registered remote / container servers ([] before `sage init`)."""
    if not store_exists(home):
        return []
    with session_scope(home) as session:
        return list(session.scalars(select(MaterializationServer.nombre)
                                    .where(MaterializationServer.tipo != LOCAL_SERVER)
                                    .order_by(MaterializationServer.nombre)))


# --------------------------------------------------------------------------- routing

@dataclass
class RoutedRun:
    casilla: str
    upload_id: str
    server: str
    asset_keys: list[AssetKey] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    waits: bool = False

    @property
    def job_name(self) -> str:
        return job_name(self.casilla, self.server)

    @property
    def reason(self) -> str:
        text = "; ".join(dict.fromkeys(self.reasons))
        return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1] + "…"

    @property
    def tags(self) -> dict[str, str]:
        return {SERVER_TAG: self.server, SERVER_REASON_TAG: self.reason}


def upload_steps(plans: list, casilla: str, upload_id: str, home: SageHome,
                 only: set[AssetKey] | None = None) -> list[tuple[AssetKey, int, str | None]]:
    """(asset key, bytes of the upload file it materializes, pinned server) for each step."""
    sizes: dict[str, int] = {}
    steps = []
    for plan in plans:
        if plan.casilla != casilla:
            continue
        for table in plan.tables:
            key = table_key(casilla, table)
            if only is not None and key not in only:
                continue
            if table.catalog_key not in sizes:
                member = find_member(home, plan.sage, casilla, upload_id, table.catalog_key)
                sizes[table.catalog_key] = member.size if member is not None else 0
            steps.append((key, sizes[table.catalog_key], plan.server))
    return steps


def route_upload(plans: list, casilla: str, upload_id: str, home: SageHome, states: list[ServerState],
                 policy: Policy | None = None, only: set[AssetKey] | None = None) -> list[RoutedRun]:
    """The runs for one upload: one per chosen server, `local` first."""
    steps = upload_steps(plans, casilla, upload_id, home, only)
    by_id = {key.to_user_string(): key for key, _, _ in steps}
    decisions: dict[str, Decision] = assign_steps(
        [(key.to_user_string(), size, pinned) for key, size, pinned in steps], states, policy or Policy.from_env())
    runs: dict[str, RoutedRun] = {}
    for step_id, decision in sorted(decisions.items()):
        run = runs.setdefault(decision.server, RoutedRun(casilla, upload_id, decision.server))
        run.asset_keys.append(by_id[step_id])
        run.reasons.append(f"{by_id[step_id].path[-1]}: {decision.reason}")
        run.waits = run.waits or decision.waits
    return sorted(runs.values(), key=lambda r: (r.server != LOCAL_SERVER, r.server))


def current_states(home: SageHome, live: bool = True) -> list[ServerState]:
    """The balancer's view: pinged now (`live`) or as last stored."""
    with session_scope(home) as session:
        return live_states(session, home) if live else stored_states(session)


def upload_run_requests(home: SageHome, casilla: str, upload_ids: list[str],
                        states: list[ServerState] | None = None) -> list[RunRequest]:
    """The sensor's (and schedules') run requests for new uploads: one per upload and server."""
    with session_scope(home) as session:
        plans = load_plans(session)
    states = states if states is not None else current_states(home)
    requests = []
    for upload_id in upload_ids:
        for run in route_upload(plans, casilla, upload_id, home, states):
            requests.append(RunRequest(
                run_key=f"{casilla}:{upload_id}" + ("" if run.server == LOCAL_SERVER else f":{run.server}"),
                job_name=run.job_name, partition_key=upload_id, asset_selection=run.asset_keys,
                tags={"sage/casilla": casilla, "sage/upload_id": upload_id, **run.tags}))
    return requests
