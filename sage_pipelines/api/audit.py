"""`/audit`: every change (and every refused request): when, who, from where, what, before/after."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from sage_pipelines.api.deps import permit, store
from sage_pipelines.api.schemas import UtcTime
from sage_pipelines.services.audit import list_audit
from sage_pipelines.services.auth import Principal
from sage_pipelines.services.durations import parse_since

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditRow(BaseModel):
    id: int
    time: UtcTime
    actor: str
    source: str | None = None
    client: str | None = None
    action: str
    object: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    detail: dict[str, Any]


@router.get("", response_model=list[AuditRow], summary="The audit log, newest first")
def list_rows(request: Request, object: str | None = Query(None, max_length=400, description="`secret:pg` or `pg`"),
              actor: str | None = Query(None, max_length=200),
              since: str | None = Query(None, max_length=64, description="a date/time (UTC) or an age: 7d, 12h"),
              limit: int = Query(100, ge=1, le=1000), _: Principal = Depends(permit("audit.read"))) -> list[AuditRow]:
    moment = parse_since(since, "since") if since else None
    with store(request) as session:
        return [AuditRow(id=a.id, time=a.momento, actor=a.actor, source=a.origen, client=a.cliente, action=a.accion,
                         object=a.objeto, before=a.antes, after=a.despues, detail=a.detalle or {})
                for a in list_audit(session, obj=object, actor=actor, since=moment, limit=limit)]
