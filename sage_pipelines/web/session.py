"""The console's session: a sealed cookie, CSRF tokens, and the guard every page goes through.

The cookie holds the login token, the session's CSRF token and one pending notice, sealed with
Fernet (encrypted and signed) under a key derived from the installation's secret key: a browser
can neither read nor forge it, and `HttpOnly` + `SameSite=Strict` keep scripts and other sites
away from it. The token is admitted again on every request (`services.auth.admit`, as the API
does), so a revoked or expired token ends its sessions at once. Every form carries the CSRF
token, checked before any change.

`page(permission)` wraps a route with the permission the API's route for the same thing needs
(`services.auth.PERMISSIONS`): no session sends the browser to the login page, a token no longer
valid too (audited as `auth.unauthenticated`), a role without the permission gets the 403 page
(audited as `auth.forbidden`); otherwise the route runs with `request.state.console`, and every
service it calls audits under the user's name, source `web` and the client's address.
"""

from __future__ import annotations

import functools
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable
from urllib.parse import quote

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from sage_pipelines.crypto import derived_key
from sage_pipelines.services.audit import set_actor
from sage_pipelines.services.auth import PERMISSIONS, AuthenticationError, Forbidden, Principal, admit, authenticate
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines.web.render import render

COOKIE = "sage_console"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf_token"
SOURCE = "web"  # the audit's source for what the pages do


def console_home(request: Request) -> SageHome:
    """The SAGE_HOME the app serves (`create_app(home)` keeps it in `app.state.home`)."""
    home = getattr(request.app.state, "home", None)
    return home if home is not None else SageHome.from_env()


def _fernet(home: SageHome) -> Fernet:
    return Fernet(derived_key(home, "console-session"))


@dataclass
class Console:
    """What one request knows about its session."""

    home: SageHome
    csrf: str
    token: str | None = None
    principal: Principal | None = None
    notice: str | None = None  # shown once on the next page
    changed: bool = False  # the cookie must be written again
    errors: dict[str, str] = field(default_factory=dict)

    def can(self, permission: str) -> bool:
        return self.principal is not None and self.principal.can(permission)

    def tell(self, notice: str) -> None:
        self.notice, self.changed = notice, True

    def take_notice(self) -> str | None:
        notice, self.notice = self.notice, None
        if notice:
            self.changed = True
        return notice


def read_session(request: Request) -> Console:
    """The request's session from its cookie; a fresh one (new CSRF token) if absent or invalid."""
    home = console_home(request)
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = json.loads(_fernet(home).decrypt(raw.encode(), ttl=SESSION_SECONDS))
            return Console(home, csrf=data["c"], token=data.get("t"), notice=data.get("n"))
        except (InvalidToken, ValueError, KeyError, TypeError):
            pass
    return Console(home, csrf=secrets.token_urlsafe(32), changed=True)


def write_session(response: Response, c: Console, request: Request) -> Response:
    sealed = _fernet(c.home).encrypt(json.dumps({"c": c.csrf, "t": c.token, "n": c.notice}).encode())
    response.set_cookie(COOKIE, sealed.decode(), max_age=SESSION_SECONDS, path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


def forget_session(response: Response) -> Response:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def csrf_ok(c: Console, form: Any) -> bool:
    sent = form.get(CSRF_FIELD) if form is not None else None
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), c.csrf.encode())


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def admit_token(home: SageHome, token: str | None, permission: str, request: Request) -> Principal:
    """`services.auth.admit` for a page: refusals are audited with source `web`."""
    return admit(home, token, permission, f"{request.method} {request.url.path}", SOURCE, client_of(request))


def principal_of(home: SageHome, token: str) -> Principal:
    """Who holds a token already admitted once (to show them the 403 page)."""
    with session_scope(home) as session:
        return authenticate(session, token)


def redirect(url: str, c: Console | None = None, request: Request | None = None) -> Response:
    """303 See Other (a POST's answer), carrying the session when it changed."""
    response = RedirectResponse(url, status_code=303)
    if c is not None and request is not None and c.changed:
        write_session(response, c, request)
    return response


def page(permission: str, *, form: bool = False) -> Callable:
    """Guard a route: login required, `permission` required, and for forms a valid CSRF token.

    With `form=True` the parsed form is in `request.state.form` (files stream to disk as they
    arrive: Starlette spools each part past 1 MB into a temporary file).
    """
    def decorate(route: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        @functools.wraps(route)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> Response:
            c = read_session(request)
            if not c.token:
                return _to_login(request, c)
            try:
                c.principal = await run_in_threadpool(admit_token, c.home, c.token, permission, request)
            except AuthenticationError:  # expired or revoked since login: log in again
                return _to_login(request, Console(c.home, csrf=c.csrf, changed=True))
            except Forbidden:
                c.principal = await run_in_threadpool(principal_of, c.home, c.token)
                set_actor(c.principal.actor(SOURCE, client_of(request)))
                return refuse(request, c, f"your role ({c.principal.role}) may not {PERMISSIONS[permission].does}")
            set_actor(c.principal.actor(SOURCE, client_of(request)))  # in the request's own context
            request.state.console = c
            if form:
                request.state.form = await request.form()
                if not csrf_ok(c, request.state.form):
                    return refuse(request, c, "this form has expired (its security token does not match); "
                                              "reload the page and try again")
            response = await route(request, *args, **kwargs)
            if c.changed:
                write_session(response, c, request)
            return response
        return guarded
    return decorate


def _to_login(request: Request, c: Console) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    return write_session(response, c, request) if c.changed else response


def refuse(request: Request, c: Console, message: str, status: int = 403) -> Response:
    return render(request, "forbidden.html", c, {"message": message}, status=status)


async def call(c: Console, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a service function in a store session (committed on success) off the event loop."""
    def run() -> Any:
        with session_scope(c.home) as session:
            return fn(session, *args, **kwargs)
    return await run_in_threadpool(run)
