"""What no name may hold, whatever it names (a field, a catalog, a table, a schema).

Names reach SQL only quoted by each dialect's own rules, so `group`, `select`, `30001`, `Año`,
`x;--drop` and names with quotes, double quotes, backticks or brackets are plain names that
round-trip exactly: they are legitimate and accepted. What no destination can hold safely is
refused where the name is first given (`casillas add`, `materializations apply`): a control
character (PostgreSQL cannot store NUL; a line break or a tab splits the one-line errors, logs
and Dagster metadata that show the name; lake table folders cannot hold them), an invisible
format character (zero-width and bidirectional marks make two different names look the same),
and whitespace at either end (MySQL refuses a trailing space, and headers are matched without
it). Limits of one destination only (PostgreSQL's 63 bytes, Hudi's ASCII column names) are that
destination's to check.
"""

from __future__ import annotations

import unicodedata

# Columns every destination adds to each table; a field may not take their names.
RESERVED_PREFIX = "_sage_"


def name_problem(name: str) -> str | None:
    """Why `name` cannot name anything, or None when it can."""
    if not name:
        return "a name cannot be empty"
    if name != name.strip():
        return "a name cannot start or end with whitespace"
    for ch in name:
        category = unicodedata.category(ch)
        if category == "Cc":
            return f"a name cannot hold a control character ({ch!r})"
        if category == "Cf":
            return f"a name cannot hold an invisible format character (U+{ord(ch):04X})"
    return None
