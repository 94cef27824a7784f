"""User-facing errors.

Every mistake a user can make (a bad YAML key, a value that does not convert, an unknown
connection) is raised as a `SageError` whose message is one line naming the thing at fault.
The CLI prints that line and exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SageError(Exception):
    """A user mistake or an environment problem, explained in one line."""


class ConfigError(SageError):
    """A YAML file, a spec or a CLI argument is wrong (names the key path)."""


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
