"""`/runs`: materialize an upload through the Dagster instance's run queue (the same routing as
`sage materialize`, one run per chosen server), and read a run's status back. Runs are executed
by the Dagster daemon (`sage dev`); each answer links into the Dagster UI (`SAGE_DAGSTER_URL`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from sage_pipelines.api.deps import home_of, permit, store
from sage_pipelines.api.schemas import described
from sage_pipelines.materialization.names import NAME_RE
from sage_pipelines.orchestration.submit import SubmittedRun, asset_url, run_state, run_url, submit_upload
from sage_pipelines.services.auth import Principal
from sage_pipelines.services.casillas import get_casilla

router = APIRouter(prefix="/runs", tags=["runs"])


class RunRequest(BaseModel):
    casilla: str = Field(max_length=64, **described(NAME_RE))
    upload: str | None = Field(None, max_length=64, description="the upload id (default: the newest)")
    tables: list[str] | None = Field(None, description="only these tables (catalog keys or table names)")
    destinations: list[str] | None = Field(None, description="only these destination aliases")


class AssetOut(BaseModel):
    key: list[str]
    url: str


class RunOut(BaseModel):
    run_id: str
    server: str
    job: str
    reason: str = Field(description="the balancer's choice of server, per table")
    assets: list[AssetOut]
    url: str = Field(description="the run in the Dagster UI")


class Submitted(BaseModel):
    upload: str
    runs: list[RunOut]


class RunStatus(BaseModel):
    run_id: str
    status: str = Field(description="Dagster's: QUEUED, STARTING, STARTED, SUCCESS, FAILURE, CANCELED, ...")
    finished: bool
    job: str
    casilla: str | None = None
    upload: str | None = None
    server: str | None = None
    url: str


def run_view(run: SubmittedRun) -> RunOut:
    return RunOut(run_id=run.run_id, server=run.server, job=run.job, reason=run.reason, url=run_url(run.run_id),
                  assets=[AssetOut(key=key, url=asset_url(key)) for key in run.asset_keys])


@router.post("", response_model=Submitted, status_code=202,
             summary="Materialize an upload: queue its runs (the Dagster daemon executes them)")
def submit(body: RunRequest, request: Request, _: Principal = Depends(permit("runs.write"))) -> Submitted:
    with store(request) as session:
        get_casilla(session, body.casilla)  # an unknown casilla is a 404, not "has no materialization"
    upload, runs = submit_upload(body.casilla, body.upload, body.tables or None, body.destinations or None,
                                 home=home_of(request))
    return Submitted(upload=upload, runs=[run_view(r) for r in runs])


@router.get("/{run_id}", response_model=RunStatus, summary="A run's status in the Dagster instance")
def status(run_id: str, request: Request, _: Principal = Depends(permit("read"))) -> RunStatus:
    state = run_state(run_id, home_of(request))
    return RunStatus(run_id=state.run_id, status=state.status, finished=state.finished, job=state.job,
                     casilla=state.tags.get("sage/casilla"), upload=state.tags.get("sage/upload_id"),
                     server=state.tags.get("sage/server"), url=run_url(state.run_id))
