"""Apache Iceberg tables through pyiceberg: SQL (SQLite / PostgreSQL) and REST catalogs."""

from sage_pipelines.destinations.iceberg.destination import IcebergDestination

__all__ = ["IcebergDestination"]
