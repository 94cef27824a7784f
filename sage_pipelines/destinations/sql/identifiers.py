"""Identifier checks and quoting.

Every table, schema and column name reaches SQL only through `Quoter.ident`, which always
quotes with the dialect's own rules (SQLAlchemy's `IdentifierPreparer`), so names such as
`group`, `Año`, `30001` or `select * from x;--` are plain names. Lengths are checked up front
against the dialect's limit so the user gets one clear line instead of a silent truncation
(PostgreSQL cuts names at 63 bytes and would merge two long names into one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy.engine.interfaces import Dialect as SADialect

from sage_pipelines.errors import DestinationError


@dataclass(frozen=True)
class Quoter:
    """Quotes identifiers for one dialect and checks them against its limits.

    `length_in_bytes`: PostgreSQL counts the limit in UTF-8 bytes, MySQL in characters.
    `case_insensitive`: MySQL and DuckDB compare column names without case, so `Id` and `id`
    are the same column there.
    """

    sa_dialect: SADialect
    max_length: int
    length_in_bytes: bool = False
    case_insensitive: bool = False
    no_trailing_space: bool = False

    def ident(self, name: str) -> str:
        return self.sa_dialect.identifier_preparer.quote_identifier(name)

    def qualified(self, schema: str | None, name: str) -> str:
        return f"{self.ident(schema)}.{self.ident(name)}" if schema else self.ident(name)

    def fold(self, name: str) -> str:
        """The form under which the database compares names."""
        return name.lower() if self.case_insensitive else name

    def check(self, name: str, what: str) -> None:
        if not isinstance(name, str) or not name:
            raise DestinationError(f"{what}: an empty name is not allowed")
        if "\x00" in name:
            raise DestinationError(f"{what} {name!r}: a name cannot contain a NUL character")
        if self.no_trailing_space and name != name.rstrip(" "):
            raise DestinationError(f"{what} {name!r}: a name cannot end with a space here")
        length = len(name.encode("utf-8")) if self.length_in_bytes else len(name)
        if length > self.max_length:
            unit = "bytes" if self.length_in_bytes else "characters"
            raise DestinationError(f"{what} {name!r} is {length} {unit} long; "
                                   f"this database allows at most {self.max_length}")

    def check_columns(self, names: Iterable[str], where: str) -> None:
        seen: dict[str, str] = {}
        for name in names:
            self.check(name, f"{where}: column")
            folded = self.fold(name)
            if folded in seen:
                raise DestinationError(f"{where}: columns {seen[folded]!r} and {name!r} "
                                       "are the same name in this database")
            seen[folded] = name
