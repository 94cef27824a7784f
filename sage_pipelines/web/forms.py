"""Reading submitted forms and putting the service's one-line error beside the field at fault.

The services raise one line naming the thing at fault, the same line the CLI prints. A form
shows it beside the field it names: the error's own `field` when the service set one, else the
key path of a materialization error (`materialization.tables.ventas.strategy`), else the first
of the form's rules (a pattern of the message -> a field) that matches, else the form's top.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

from starlette.datastructures import UploadFile

from sage_pipelines.errors import ConfigError, SageError

FORM = "_form"  # errors not tied to one field: shown at the top of the page
_KEY_PATH = re.compile(r"(?:^|: )materialization\.(?P<path>\S+?): ")
_INDEX = re.compile(r"\[\d+\]$")


def key_path(message: str) -> str | None:
    """`tables.ventas.primary_key` from `src: materialization.tables.ventas.primary_key[0]: ...`."""
    m = _KEY_PATH.search(message)
    return _INDEX.sub("", m.group("path")) if m else None


def field_for(exc: SageError, rules: Sequence[tuple[str, str]] = (), fields: Iterable[str] = ()) -> str:
    """The form field an error belongs to; `rules` are (regular expression, field) pairs tried
    in order on the message, `fields` the form's field names (an error's `field` outside them
    goes to the top)."""
    known = set(fields)
    field = getattr(exc, "field", None)
    if field:
        field = field.removeprefix("materialization.")
        if not known or field in known:
            return field
    message = str(exc)
    for pattern, name in rules:
        if re.search(pattern, message):
            return name
    return FORM


def text(form: Any, name: str) -> str | None:
    """A text field, stripped; None when missing or blank."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def names(form: Any, name: str) -> list[str]:
    """A comma-separated list of names (`id_venta, semana`)."""
    return [part.strip() for part in (text(form, name) or "").split(",") if part.strip()]


def integer(form: Any, name: str, what: str, default: int | None = None) -> int | None:
    value = text(form, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{what}: {value!r} is not a whole number") from None


def options(form: Any, name: str) -> dict[str, str]:
    """`KEY=VALUE` lines (the CLI's repeated `--option`)."""
    out: dict[str, str] = {}
    for line in (form.get(name) or "").splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"option {line.strip()!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def uploaded(form: Any, name: str) -> UploadFile | None:
    """The file of a file field, None when the field was left empty."""
    value = form.get(name)
    if isinstance(value, UploadFile) and value.filename:
        return value
    return None
