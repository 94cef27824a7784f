"""The SQL core shared by every database destination.

A database destination is a `Dialect` (the few things that differ: capabilities, the type map,
how to connect, lock and bulk-load, and the statements whose syntax differs) plugged into one
`SqlDestination`, which owns the algorithm: check names, create or evolve the table, stage the
upload through the database's bulk path, apply the strategy with one set-based statement, all
inside one transaction.
"""

from sage_pipelines.destinations.sql.destination import SqlDestination
from sage_pipelines.destinations.sql.dialect import Dialect, Target
from sage_pipelines.destinations.sql.typemap import TypeMap

__all__ = ["Dialect", "SqlDestination", "Target", "TypeMap"]
