"""Match a file's header row to a catalog's fields (shared by the CSV and Excel readers).

SAGE compares header names ignoring case and surrounding or repeated whitespace; with a header
the file's columns are then taken by name, in whatever order the file has them. A column the
catalog does not know, a repeated one or a missing field is refused, naming the column.
"""

from __future__ import annotations

from typing import Any

from sage_pipelines.casilla.model import Catalog
from sage_pipelines.errors import DataError


def normalize(name: Any) -> str:
    return " ".join(str(name).split()).casefold()


def map_header(display: str, catalog: Catalog, header: list[Any], line: int) -> list[str]:
    """The catalog field held by each header column, in file order (raises DataError)."""
    wanted = {normalize(f.name): f.name for f in catalog.fields}
    mapped: list[str] = []
    for cell in header:
        field = wanted.get(normalize(cell)) if cell is not None else None
        if field is None:
            raise DataError(display, line, str(cell), cell,
                            f"header column is not a field of catalog {catalog.key!r}")
        if field in mapped:
            raise DataError(display, line, str(cell), cell, "header column appears twice")
        mapped.append(field)
    missing = [f.name for f in catalog.fields if f.name not in mapped]
    if missing:
        raise DataError(display, line, missing[0], ", ".join(map(str, header)),
                        f"header lacks field {missing[0]!r} of catalog {catalog.key!r}")
    return mapped
