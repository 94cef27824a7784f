"""Logging in with a token, logging out, the stylesheet, and the console's front door."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from sage_pipelines.services.auth import AuthenticationError
from sage_pipelines.web.render import HERE, render
from sage_pipelines.web.session import (Console, admit_token, csrf_ok, forget_session, read_session, redirect,
                                        write_session)

router = APIRouter()
HOME_PAGE = "/casillas"


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never `//other.example` or a full URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return HOME_PAGE
    return target


@router.get("/")
async def front_door() -> Response:
    return RedirectResponse(HOME_PAGE, status_code=303)


@router.get("/static/console.css")
async def stylesheet() -> Response:
    return FileResponse(HERE / "static" / "console.css", media_type="text/css",
                        headers={"Cache-Control": "max-age=300"})


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    c = read_session(request)
    response = render(request, "login.html", Console(c.home, csrf=c.csrf), {"next": _safe_next(next)})
    return write_session(response, Console(c.home, csrf=c.csrf), request)


@router.post("/login")
async def login(request: Request) -> Response:
    """A valid token opens a session (a new CSRF token, so one planted before login is useless)."""
    c = read_session(request)
    form = await request.form()
    target = _safe_next(form.get("next") if isinstance(form.get("next"), str) else None)
    if not csrf_ok(c, form):
        c.errors["token"] = "this form has expired; reload the page and log in again"
        return write_session(render(request, "login.html", c, {"next": target}, status=403), c, request)
    token = (form.get("token") or "").strip() if isinstance(form.get("token"), str) else ""
    try:
        principal = await run_in_threadpool(admit_token, c.home, token or None, "read", request)
    except AuthenticationError:
        principal = None
    if principal is None:
        c.errors["token"] = "this token is not valid (wrong, expired or revoked)"
        return write_session(render(request, "login.html", c, {"next": target}, status=401), c, request)
    fresh = Console(c.home, csrf=secrets.token_urlsafe(32), token=token, changed=True)
    fresh.tell(f"logged in as {principal.user} ({principal.role})")
    return redirect(target, fresh, request)


@router.post("/logout")
async def logout(request: Request) -> Response:
    c = read_session(request)
    form = await request.form()
    if not csrf_ok(c, form):  # a forged logout would only be a nuisance, but still: same rule for every form
        return RedirectResponse(HOME_PAGE, status_code=303)
    return forget_session(RedirectResponse("/login", status_code=303))
