"""All the API's routers, each module one entity; `app.create_app` mounts them under `/api/v1`."""

from __future__ import annotations

from fastapi import APIRouter

from sage_pipelines.api import (audit, casillas, connections, history, lakes, materializations, me, runs, secrets,
                                servers)
from sage_pipelines.api.errors import ERROR_RESPONSES

api_router = APIRouter(responses=ERROR_RESPONSES)
for module in (me, secrets, connections, lakes, servers, casillas, materializations, runs, history, audit):
    api_router.include_router(module.router)
