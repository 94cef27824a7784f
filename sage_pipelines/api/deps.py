"""What every handler needs: the installation, a store session, and an admitted principal.

`permit(permission)` is the dependency each route declares. It reads the bearer token, runs
`services.auth.admit` (authenticate, authorize, audit a refusal) in a worker thread, and sets
the actor of the request (the user, source `api`, the client's address) from async code, so
every service the handler calls audits under that name.
"""

from __future__ import annotations

import contextlib
from typing import Awaitable, Callable, Iterator

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from sage_pipelines.services.audit import set_actor
from sage_pipelines.services.auth import Principal, admit
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope

SOURCE = "api"
bearer = HTTPBearer(auto_error=False, description="An API token from `sage tokens create USER`",
                    scheme_name="token")


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def home_of(request: Request) -> SageHome:
    return request.app.state.home


@contextlib.contextmanager
def store(request: Request) -> Iterator[Session]:
    """A store session for one handler, committed when the block ends (before the response)."""
    with session_scope(home_of(request)) as session:
        yield session


def permit(permission: str) -> Callable[..., Awaitable[Principal]]:
    """The dependency that admits a request holding `permission` (`services.auth.PERMISSIONS`)."""

    async def admitted(request: Request,
                       credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
        token = credentials.credentials if credentials is not None else None
        client = client_address(request)
        where = f"{request.method} {request.url.path}"
        principal = await run_in_threadpool(admit, home_of(request), token, permission, where, SOURCE, client)
        set_actor(principal.actor(SOURCE, client))  # here, in the request's own context
        return principal

    return admitted
