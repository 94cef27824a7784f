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

from sage_pipelines.destinations.base import IdentifierRules
from sage_pipelines.errors import DestinationError


@dataclass(frozen=True)
class Quoter:
    """Quotes identifiers for one dialect and checks them against its `IdentifierRules` (the
    kind's capabilities, which the validator checks at `materializations apply` too)."""

    sa_dialect: SADialect
    rules: IdentifierRules

    @property
    def max_length(self) -> int:
        return self.rules.max_length

    def ident(self, name: str) -> str:
        return self.sa_dialect.identifier_preparer.quote_identifier(name)

    def qualified(self, schema: str | None, name: str) -> str:
        return f"{self.ident(schema)}.{self.ident(name)}" if schema else self.ident(name)

    def fold(self, name: str) -> str:
        """The form under which the database compares names."""
        return name.lower() if self.rules.case_insensitive else name

    def check(self, name: str, what: str) -> None:
        problem = self.rules.problem(name)
        if problem:
            raise DestinationError(f"{what} {name!r}: {problem}")

    def check_columns(self, names: Iterable[str], where: str) -> None:
        seen: dict[str, str] = {}
        for name in names:
            self.check(name, f"{where}: column")
            folded = self.fold(name)
            if folded in seen:
                raise DestinationError(f"{where}: columns {seen[folded]!r} and {name!r} "
                                       "are the same name in this database")
            seen[folded] = name
