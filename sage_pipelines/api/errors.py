"""Errors as JSON: `{"error": {"code", "message", "field"}}`, the status saying whose fault it is.

A `SageError` is the user's mistake and keeps the CLI's one-line message: 400 (`invalid`), 404
(`not_found`, an unknown name), 409 (`conflict`: exists already, in use). 401 and 403 are the
token checks. Anything else is a bug: a generic 500 whose details go to the server log only
(through the redacting log filter), never into the response.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from sage_pipelines.errors import ConflictError, NotFoundError, SageError
from sage_pipelines.services.auth import AuthenticationError, Forbidden

log = logging.getLogger(__name__)

INTERNAL_MESSAGE = "internal error; the server log has the details"
_HTTP_CODES = {400: "invalid", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type"}


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, field=field))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def status_of(exc: SageError) -> tuple[int, str]:
    if isinstance(exc, AuthenticationError):
        return 401, "unauthenticated"
    if isinstance(exc, Forbidden):
        return 403, "forbidden"
    if isinstance(exc, NotFoundError):
        return 404, "not_found"
    if isinstance(exc, ConflictError):
        return 409, "conflict"
    return 400, "invalid"


async def _sage_error(request: Request, exc: SageError) -> JSONResponse:
    status, code = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, code, str(exc), getattr(exc, "field", None), headers)


def _field(loc: tuple) -> str | None:
    """`("body", "port")` -> `port`; `("query", "limit")` -> `limit`."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or None


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    field = _field(tuple(first.get("loc", ())))
    message = first.get("msg", "invalid request")
    return error_response(400, "invalid", f"{field}: {message}" if field else message, field)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), None, getattr(exc, "headers", None))


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
    return error_response(500, "internal", INTERNAL_MESSAGE)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SageError, _sage_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)


ERROR_RESPONSES = {status: {"model": ErrorBody, "description": code.replace("_", " ")}
                   for status, code in ((400, "invalid"), (401, "unauthenticated"), (403, "forbidden"),
                                        (404, "not_found"), (409, "conflict"))}
