"""The SAGE Materialize console: the pages a SAGE user clicks through, as one FastAPI router.

`router` (mounted at `/` by the app factory, beside the REST API under `/api/v1`) serves, in the
order a user needs them: secrets and connections, lakes, servers, casillas, a casilla's
materialization form, uploads with their runs, history and the audit log. Every form validates
by calling the same service function the CLI calls and shows that function's one-line error
beside the field at fault. Plain HTML forms and Jinja2 templates, no JavaScript.

Layer: the top, beside the command line; it reads the SAGE_HOME of `request.app.state.home`.
"""

from __future__ import annotations

from fastapi import APIRouter

from sage_pipelines.web import casillas, connections, infrastructure, login, materialization, uploads

router = APIRouter(include_in_schema=False)
for _module in (login, connections, infrastructure, casillas, materialization, uploads):
    router.include_router(_module.router)

__all__ = ["router"]
