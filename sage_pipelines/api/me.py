"""`GET /me`: who the token belongs to and what its role may do."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from sage_pipelines.api.deps import permit
from sage_pipelines.services.auth import PERMISSIONS, Principal

router = APIRouter(tags=["me"])


class Me(BaseModel):
    user: str
    role: str
    permissions: list[str]


@router.get("/me", response_model=Me, summary="The token's user, role and permissions")
def me(principal: Principal = Depends(permit("read"))) -> Me:
    return Me(user=principal.user, role=principal.role,
              permissions=[name for name in PERMISSIONS if principal.can(name)])
