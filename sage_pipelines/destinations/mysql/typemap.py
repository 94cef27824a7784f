"""Logical column types <-> MySQL DDL. A key cannot be TEXT, so an unbounded text key is
VARCHAR(255); BOOLEAN is TINYINT(1), told from a number by its full column_type."""

from __future__ import annotations

from sage_pipelines.destinations.sql.typemap import TypeMap
from sage_pipelines.types import Kind

TYPE_MAP = TypeMap(
    text="LONGTEXT", key_text_length=255, decimal="DECIMAL({precision},{scale})",
    timestamp="DATETIME(6)", boolean="TINYINT(1)",
    catalog={"varchar": Kind.TEXT, "char": Kind.TEXT, "tinytext": Kind.TEXT, "text": Kind.TEXT,
             "mediumtext": Kind.TEXT, "longtext": Kind.TEXT, "decimal": Kind.DECIMAL,
             "bigint": Kind.INTEGER, "date": Kind.DATE, "datetime": Kind.TIMESTAMP,
             "timestamp": Kind.TIMESTAMP},
    bounded_text=frozenset({"varchar", "char"}),
    boolean_column_types=frozenset({"tinyint(1)"}))
