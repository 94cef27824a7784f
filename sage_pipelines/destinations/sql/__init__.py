"""The SQL core shared by every database destination.

A database destination is a `Dialect` (the few things that differ: capabilities, the type map,
how to connect, lock and bulk-load, and the statements whose syntax differs) plugged into one
`SqlDestination`, which owns the algorithm: check names, create or evolve the table, stage the
upload through the database's bulk path, apply the strategy with one set-based statement, all
inside one transaction.

A database kind (its folder `destinations/<kind>/`, see the package docstring) plugs in a
`Dialect` subclass and a two-line `SqlDestination` subclass:
- data: `kind`, `capabilities` (the kind's, incl. `transactional_ddl`), `type_map` (DDL strings +
  information_schema names), `q` (a `Quoter` over the SQLAlchemy dialect and the kind's
  identifier rules), `param` (the driver's placeholder), `driver_errors`, `client` (the kind's
  connect code, `connect.Client`, shared with `connections test`);
- driver: `connect` (the client's, plus what the dialect notes per connection), `begin`,
  `serialize_ddl`/`release` (make writers of
  one table take turns), `lock_table`, `create_staging`/`load_into`/`drop_staging` (the bulk
  path; `staging.encode_text` gives the escaped tab-separated text COPY / LOAD DATA read, and
  `staging.prefetched` reads + encodes the next batch while the database loads the previous);
  `loads_directly` when truncate_insert and append may bulk-load into the table itself (no
  staging table: the delete runs first, the load joins the same transaction);
- statements that differ: e.g. `upsert_sql` (MERGE), `delete_matching_sql`, `widen_column_sql`,
  `create_schema_sql`, `dedup_sql`, and `upsert` when counts come cheaper another way.
"""

from sage_pipelines.destinations.sql.destination import SqlDestination
from sage_pipelines.destinations.sql.dialect import Dialect, Target
from sage_pipelines.destinations.sql.typemap import TypeMap

__all__ = ["Dialect", "SqlDestination", "Target", "TypeMap"]
