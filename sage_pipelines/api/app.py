"""The ASGI app `sage serve` runs: the REST API under `/api/v1` and, when installed, the pages at `/`.

`create_app(home)` binds the app to one installation (`app.state.home`), installs the JSON
error handlers, and gives each request a default actor (`anonymous`, with its client address)
until its token is admitted, so nothing can be audited under the name of whoever started the
server. The API's own OpenAPI schema is at `/api/v1/openapi.json`, its docs at `/api/v1/docs`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from sage_pipelines.api.errors import install_error_handlers
from sage_pipelines.api.routes import api_router
from sage_pipelines.orchestration.submit import ensure_instance
from sage_pipelines.services.audit import Actor, acting_as
from sage_pipelines.services.auth import ANONYMOUS
from sage_pipelines.services.home import ready_home
from sage_pipelines.settings import SageHome

try:  # the pages are optional: the API runs without them
    from sage_pipelines.web import router as web_router
except ModuleNotFoundError as exc:  # only the pages' own absence; a broken import inside them is a bug
    if exc.name != "sage_pipelines.web":
        raise
    web_router = None

API_PREFIX = "/api/v1"


class DefaultActor:
    """ASGI middleware: every request starts as `anonymous` from its client's address."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        source = "api" if scope.get("path", "").startswith(API_PREFIX) else "web"
        with acting_as(Actor(ANONYMOUS, source, client[0] if client else None)):
            await self.app(scope, receive, send)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, without the 422 responses it documents by default (validation errors are
    answered as 400 with the common error body), and with every error body as JSON (FastAPI
    documents them in the media type of the route's own response, YAML for the exports)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                responses.pop("422", None)
                for response in responses.values():
                    for media in list(response.get("content", {})):
                        body = response["content"][media]
                        if body.get("schema", {}).get("$ref", "").endswith("/ErrorBody"):
                            response["content"] = {"application/json": body}
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(home: SageHome | None = None) -> FastAPI:
    """The console and API of installation `home` (default: $SAGE_HOME, which must be initialised)."""
    home = ready_home(home)
    ensure_instance(home)  # the runs endpoint submits to this installation's Dagster instance
    app = FastAPI(title="SAGE Materialize", version="1",
                  description="Secrets, connections, lakes, servers, casillas, materializations, uploads, "
                              "runs, history and audit of one SAGE installation. Every call needs a bearer "
                              "token (`sage tokens create USER`).",
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs", redoc_url=None)
    app.state.home = home
    install_error_handlers(app)
    app.include_router(api_router, prefix=API_PREFIX)
    if web_router is not None:
        app.include_router(web_router)
    app.add_middleware(DefaultActor)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
