"""SQL Server through pymssql: a `#staging` table loaded by INSERT ... VALUES batches, then one
T-SQL statement per strategy in one transaction.

`capabilities` and `settings` are data (imported with the registry); `client` opens connections
(for writes and `connections test`, with the TDS version of the settings), `typemap` maps the
logical types and checks key sizes, `dialect` holds every difference from the shared SQL core,
`literals` / `batching` the values' way into T-SQL, `destination` the destination class. The
driver is imported only with `client` / `dialect`.
"""

from sage_pipelines.destinations.base import DestinationKind
from sage_pipelines.destinations.sqlserver.capabilities import CAPABILITIES
from sage_pipelines.destinations.sqlserver.settings import SQLServerSettings

KIND = DestinationKind(
    name="sqlserver", family="database", capabilities=CAPABILITIES, settings=SQLServerSettings,
    destination="sage_pipelines.destinations.sqlserver.destination:SQLServerDestination",
    client="sage_pipelines.destinations.sqlserver.client:CLIENT")
