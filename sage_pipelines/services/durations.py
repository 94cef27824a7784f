"""Times users type: an age or a lifetime (`30m`, `12h`, `30d`, `2w`) and a point in time.

`sage tokens create --expires 30d` and `sage audit --since 7d` (and the API's parameters of the
same names) read them here, so both say the same thing about the same mistake.
"""

from __future__ import annotations

import datetime as dt
import re

from sage_pipelines.errors import ConfigError

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"\s*(\d{1,6})\s*([smhdw])\s*")


def parse_duration(text: str, where: str) -> dt.timedelta:
    """`30d` -> 30 days. Units: s, m, h, d, w; the number is a whole number above zero."""
    match = _DURATION.fullmatch(str(text))
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"{where}: {text!r} is not a duration (a whole number and a unit: "
                          "30m, 12h, 30d, 2w)", field=where.lstrip("-"))
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def utcnow() -> dt.datetime:
    """Now as naive UTC, like every time the store holds."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def parse_since(text: str, where: str = "--since") -> dt.datetime:
    """An ISO date or time (UTC unless it carries an offset) or an age (`7d`: 7 days ago), as naive UTC."""
    if _DURATION.fullmatch(str(text)):
        return utcnow() - parse_duration(text, where)
    try:
        moment = dt.datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is neither a date/time (2026-12-01, 2026-12-01T10:00) "
                          "nor an age (30m, 12h, 7d)", field=where.lstrip("-")) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment
