"""How many rows go into one `INSERT ... VALUES` statement and one round trip (pure arithmetic).

SQL Server caps a table value constructor at 1,000 rows and a request at 2,100 parameters. The
pymssql driver binds by quoting values on the client, so only the row cap binds it today; the
statements are still sized for both limits (at most 2,099 values each) so their shape stays valid
for a driver that sends real server-side parameters, and so the server compiles many small
statements instead of a few huge ones (compile time of VALUES grows faster than its rows).
Several statements travel in one batch (`ROUND_TRIP_ROWS`) to save round trips.
"""

from __future__ import annotations

from typing import Iterator

MAX_ROWS_PER_VALUES = 1000  # SQL Server: "The number of row value expressions ... exceeds 1000"
MAX_PARAMETERS = 2099  # SQL Server accepts 2,100 per request; keep one for the driver
ROUND_TRIP_ROWS = 10_000  # rows sent per execute (several statements in one batch)


def rows_per_statement(columns: int, max_rows: int = MAX_ROWS_PER_VALUES,
                       max_parameters: int = MAX_PARAMETERS) -> int:
    """The most rows one statement can carry: rows <= max_rows and rows x columns <= max_parameters."""
    if columns < 1:
        raise ValueError("a statement needs at least one column")
    if columns > max_parameters:
        raise ValueError(f"{columns} columns exceed the {max_parameters} values one statement may carry")
    return min(max_rows, max_parameters // columns)


def statement_slices(rows: int, columns: int) -> list[tuple[int, int]]:
    """(start, stop) row ranges, one per statement, covering `rows` rows in order."""
    size = rows_per_statement(columns)
    return [(start, min(start + size, rows)) for start in range(0, rows, size)]


def statements_needed(rows: int, columns: int) -> int:
    """ceil(rows / rows_per_statement): the number of INSERT statements for `rows` rows."""
    size = rows_per_statement(columns)
    return -(-rows // size)


def round_trips(rows: int, columns: int,
                round_trip_rows: int = ROUND_TRIP_ROWS) -> Iterator[list[tuple[int, int]]]:
    """Statement slices grouped so one execute carries about `round_trip_rows` rows (never
    fewer than one whole statement)."""
    slices = statement_slices(rows, columns)
    per_trip = max(1, round_trip_rows // rows_per_statement(columns))
    for i in range(0, len(slices), per_trip):
        yield slices[i:i + per_trip]
