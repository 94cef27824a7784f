"""PostgreSQL through psycopg 3: COPY into a temporary staging table, then one statement per
strategy in one transaction (DDL included).

`capabilities` and `settings` are data (imported with the registry); `client` opens connections
(for writes and `connections test`), `typemap` maps the logical types, `destination` is the
dialect plugged into the shared SQL core. The driver is imported only with `client` /
`destination`.
"""

from sage_pipelines.destinations.base import DestinationKind
from sage_pipelines.destinations.postgresql.capabilities import CAPABILITIES
from sage_pipelines.destinations.postgresql.settings import PostgresSettings

KIND = DestinationKind(
    name="postgresql", family="database", capabilities=CAPABILITIES, settings=PostgresSettings,
    destination="sage_pipelines.destinations.postgresql.destination:PostgresDestination",
    client="sage_pipelines.destinations.postgresql.client:CLIENT")
