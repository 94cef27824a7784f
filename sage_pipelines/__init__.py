"""SAGE Materialize: casilla uploads become exact, query-ready tables, orchestrated by Dagster."""

__version__ = "0.1.0"
