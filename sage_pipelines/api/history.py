"""`/history`: MATERIALIZATION_HISTORY rows, newest first, as `sage history` shows them."""

from __future__ import annotations


from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from sage_pipelines.api.deps import permit, store
from sage_pipelines.api.schemas import UtcTime
from sage_pipelines.orchestration.submit import run_url
from sage_pipelines.services.auth import Principal
from sage_pipelines.services.history import history

router = APIRouter(prefix="/history", tags=["history"])


class HistoryRow(BaseModel):
    started: UtcTime
    finished: UtcTime | None = None
    casilla: str
    table: str
    destination: str
    upload: str
    strategy: str
    status: str
    rows: int
    inserted: int
    updated: int
    deleted: int
    bytes: int
    seconds: float
    server: str | None = None
    server_reason: str | None = None
    error: str | None = None
    run_id: str | None = None
    run_url: str | None = None


@router.get("", response_model=list[HistoryRow], summary="Materialization history, newest first")
def list_history(request: Request, casilla: str | None = Query(None, max_length=64),
                 limit: int = Query(50, ge=1, le=1000), _: Principal = Depends(permit("read"))) -> list[HistoryRow]:
    with store(request) as session:
        return [HistoryRow(started=h.iniciado_en, finished=h.finalizado_en, casilla=h.casilla, table=h.tabla,
                           destination=h.destino, upload=h.upload_id, strategy=h.estrategia, status=h.estado,
                           rows=h.filas, inserted=h.insertadas, updated=h.actualizadas, deleted=h.eliminadas,
                           bytes=h.bytes, seconds=h.segundos, server=server, server_reason=h.razon_servidor,
                           error=h.error, run_id=h.dagster_run_id,
                           run_url=run_url(h.dagster_run_id) if h.dagster_run_id else None)
                for h, server in history(session, casilla, limit)]
