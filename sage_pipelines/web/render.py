"""Rendering the console's pages: Jinja2 templates (autoescaped), links into the Dagster UI.

No JavaScript: every action is a plain HTML form, and a page that waits for a run refreshes
itself with `<meta http-equiv="refresh">`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from dagster import DagsterRunStatus
from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.responses import Response

from sage_pipelines.orchestration.submit import asset_url, dagster_url, run_url
from sage_pipelines.store.states import ConnectionStatus, HistoryStatus, ServerStatus

HERE = Path(__file__).resolve().parent

templates = Jinja2Templates(directory=str(HERE / "templates"))


def when(value: dt.datetime | None) -> str:
    """Store times are naive UTC: shown to the second, marked UTC."""
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S} UTC"


def clock(value: dt.datetime | None) -> str:
    """Just the time of day (beside a full `when` of the same day)."""
    return "" if value is None else f"{value:%H:%M:%S}"


def size(n: int | None) -> str:
    n = n or 0
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


# The pill a state word shows in (the store's states and Dagster's run statuses); others are grey.
PILLS = {**dict.fromkeys((ConnectionStatus.OK, ServerStatus.ONLINE, HistoryStatus.SUCCEEDED,
                          DagsterRunStatus.SUCCESS.value), "ok"),
         **dict.fromkeys((ConnectionStatus.ERROR, ServerStatus.OFFLINE, ServerStatus.BROKER_DOWN, HistoryStatus.FAILED,
                          DagsterRunStatus.FAILURE.value, DagsterRunStatus.CANCELED.value), "bad"),
         **dict.fromkeys((s.value for s in (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED,
                                            DagsterRunStatus.STARTING, DagsterRunStatus.STARTED,
                                            DagsterRunStatus.CANCELING)), "wait")}


def pill(state: str | None) -> str:
    return PILLS.get(state or "", "none")


templates.env.filters.update(when=when, clock=clock, size=size, pill=pill)
templates.env.globals.update(run_url=run_url, asset_url=asset_url, dagster_ui=dagster_url)


def render(request: Request, name: str, c: Any, context: dict[str, Any] | None = None,
           status: int = 200) -> Response:
    """Render template `name` with the session (`c`, a `session.Console`), its one-time notice and the CSRF field."""
    def csrf() -> Markup:
        return Markup(f'<input type="hidden" name="csrf_token" value="{escape(c.csrf)}">')

    ctx = {"c": c, "notice": c.take_notice(), "errors": c.errors, "csrf": csrf, **(context or {})}
    return templates.TemplateResponse(request, name, ctx, status_code=status,
                                      headers={"Cache-Control": "no-store"})
