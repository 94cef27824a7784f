"""User-facing errors.

Every mistake a user can make (a bad YAML key, a value that does not convert, an unknown
connection) is raised as a `SageError` whose message is one line naming the thing at fault.
The CLI prints that line and exits non-zero; the API answers it as JSON with a 4xx status
(`NotFoundError` 404, `ConflictError` 409, anything else 400) and `field` naming the input at
fault when one is known. Anything else is a bug and keeps its traceback (server-side only).
"""

from __future__ import annotations


class SageError(Exception):
    """A user mistake or an environment problem, explained in one line.

    `field` optionally names the input at fault (`port`, `materialization.tables.ventas.strategy`)
    so a form can show the message beside it; the message itself always names it too.
    """

    def __init__(self, *args: object, field: str | None = None) -> None:
        super().__init__(*args)
        self.field = field


class ConfigError(SageError):
    """A YAML file, a spec or a CLI argument is wrong (names the key path)."""


class NotFoundError(ConfigError):
    """A name that is not registered (a casilla, secret, connection, ...)."""


class ConflictError(ConfigError):
    """The change clashes with what is stored: the name exists, or the thing is in use."""


class DataError(SageError):
    """An upload holds a value that does not convert (names file, line, column, value)."""

    def __init__(self, file: str, line: int | None, column: str | None, value: object, reason: str):
        self.file, self.line, self.column, self.value, self.reason = file, line, column, value, reason
        where = file
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        # No value (None) for problems of the whole file, e.g. an empty file or a damaged package.
        super().__init__(f"{where}: {reason}" if value is None else f"{where}: {reason}: {value!r}")


class DestinationError(SageError):
    """A destination refused a write or could not be reached; nothing was written."""


class SchemaChangeError(DestinationError):
    """The upload's schema differs from the table's and the table's policy is `freeze`."""
