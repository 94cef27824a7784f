"""Logical column types <-> DuckDB DDL. DuckDB ignores VARCHAR lengths, so text is VARCHAR."""

from __future__ import annotations

from sage_pipelines.destinations.sql.typemap import TypeMap
from sage_pipelines.types import Kind

TYPE_MAP = TypeMap(
    text="VARCHAR", varchar=None, decimal="DECIMAL({precision},{scale})",
    catalog={"varchar": Kind.TEXT, "decimal": Kind.DECIMAL, "bigint": Kind.INTEGER,
             "date": Kind.DATE, "timestamp": Kind.TIMESTAMP, "boolean": Kind.BOOLEAN})
