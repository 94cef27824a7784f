"""Keeping secrets out of text: error messages, log lines and displayed URLs.

Drivers sometimes echo what they were given (a DSN, a URL with `user:password@`), so every
message built from a driver exception goes through `redact` with the secrets that were in play.
Secrets decrypted in this process are also remembered (`remember_secret`) so the logging filter
can mask them in any record, whoever logs it.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Iterable
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

MASK = "***"

# scheme://user:password@host  ->  scheme://user:***@host (a password may hold anything but '@' or '/').
_URL_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<pw>[^\s@/]+)(?P<at>@)")

_known: set[str] = set()
_known_lock = threading.Lock()


def _variants(secret: str) -> set[str]:
    """The spellings a secret may take inside a message: as is and URL-encoded."""
    return {secret, quote(secret, safe=""), quote_plus(secret, safe="")}


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every given secret (and any URL password) replaced by `***`."""
    out = str(text)
    spellings = {v for s in secrets if s for v in _variants(str(s))}
    for s in sorted(spellings, key=len, reverse=True):  # longest first: no partial leftovers
        out = out.replace(s, MASK)
    return _URL_USERINFO.sub(lambda m: m.group("head") + MASK + m.group("at"), out)


def redact_url(url: str) -> str:
    """`url` with its password replaced by `***` (user, host, path and query kept)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:{MASK}@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def remember_secret(*secrets: str | None) -> None:
    """Register decrypted secrets: from now on every log record of this process masks them
    (`RedactingFilter`, applied by the record factory installed on the first call)."""
    with _known_lock:
        _known.update(s for s in secrets if s and len(s) >= 4)
    _install_record_factory()


def known_secrets() -> tuple[str, ...]:
    with _known_lock:
        return tuple(_known)


class RedactingFilter(logging.Filter):
    """A logging filter that masks known secrets (and URL passwords) in every record.

    Attach it to handlers (`install_log_redaction`) so it sees records from every logger.
    """

    def __init__(self, secrets: Iterable[str] | None = None) -> None:
        super().__init__()
        self._extra = tuple(s for s in (secrets or ()) if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, *self._extra, *known_secrets())
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text = str(exc)
            if redact(text, *self._extra, *known_secrets()) != text:
                # The traceback would print the secret: keep the type, drop the text.
                record.exc_info = None
                record.exc_text = None
                record.msg = f"{clean} ({type(exc).__name__}: {MASK})"
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Add one `RedactingFilter` to `logger` (default: root) and each of its handlers. Idempotent."""
    logger = logger or logging.getLogger()
    for target in (logger, *logger.handlers):
        existing = [f for f in target.filters if isinstance(f, RedactingFilter)]
        if not existing:
            target.addFilter(RedactingFilter())
    return next(f for f in logger.filters if isinstance(f, RedactingFilter))


_factory_installed = False


def _install_record_factory() -> None:
    """Redact every record as it is created, whichever logger or handler it goes to (a filter on
    the root logger would miss records of child loggers and handlers added later, e.g. Dagster's)."""
    global _factory_installed
    with _known_lock:
        if _factory_installed:
            return
        _factory_installed = True
    previous = logging.getLogRecordFactory()
    redactor = RedactingFilter()

    def factory(*args, **kwargs) -> logging.LogRecord:  # noqa: ANN002, ANN003
        record = previous(*args, **kwargs)
        try:
            redactor.filter(record)
        except Exception:  # a malformed message is the handler's to report, not the caller's
            pass
        return record

    logging.setLogRecordFactory(factory)
