"""DuckDB, the embedded warehouse: a database file written by one process at a time.

`capabilities` and `settings` are data (imported with the registry); `client` opens the file
(for writes and `connections test`), `typemap` maps the logical types, `destination` is the
dialect plugged into the shared SQL core. The driver is imported only with `client` /
`destination`.
"""

from sage_pipelines.destinations.base import DestinationKind
from sage_pipelines.destinations.duckdb.capabilities import CAPABILITIES
from sage_pipelines.destinations.duckdb.settings import DuckDBSettings

KIND = DestinationKind(
    name="duckdb", family="database", capabilities=CAPABILITIES, settings=DuckDBSettings,
    destination="sage_pipelines.destinations.duckdb.destination:DuckDBDestination",
    client="sage_pipelines.destinations.duckdb.client:CLIENT")
