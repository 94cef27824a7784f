"""Logical column types <-> PostgreSQL DDL (the SQL core's defaults) and catalog names."""

from __future__ import annotations

from sage_pipelines.destinations.sql.typemap import TypeMap
from sage_pipelines.types import Kind

TYPE_MAP = TypeMap(catalog={
    "text": Kind.TEXT, "character varying": Kind.TEXT, "numeric": Kind.DECIMAL,
    "bigint": Kind.INTEGER, "date": Kind.DATE, "timestamp without time zone": Kind.TIMESTAMP,
    "boolean": Kind.BOOLEAN})
