"""Types shared by the API's models."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi.responses import PlainTextResponse
from pydantic import AfterValidator


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def described(pattern: re.Pattern[str] | None = None, enum: tuple[str, ...] | None = None) -> dict:
    """`json_schema_extra` that documents a rule the service checks (with the CLI's message), so
    clients and the fuzzer know the accepted values; the model does not enforce it itself."""
    extra: dict = {}
    if pattern is not None:
        extra["pattern"] = f"^{pattern.pattern}$"
    if enum is not None:
        extra["enum"] = list(enum)
    return {"json_schema_extra": extra}


# The store keeps naive UTC; a response says so (`...+00:00`), as RFC 3339 date-times must.
UtcTime = Annotated[dt.datetime, AfterValidator(_utc)]


class YamlResponse(PlainTextResponse):
    """A YAML document (a casilla's SAGE YAML, a materialization's export)."""

    media_type = "application/yaml"
