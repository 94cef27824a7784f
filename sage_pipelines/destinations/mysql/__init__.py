"""MySQL / MariaDB through PyMySQL: LOAD DATA LOCAL INFILE into a staging table, then one statement
per strategy in one InnoDB transaction (DDL first, undone if the write fails).

`capabilities` and `settings` are data (imported with the registry); `client` opens connections
(for writes and `connections test`), `typemap` maps the logical types, `destination` is the
dialect plugged into the shared SQL core. The driver is imported only with `client` /
`destination`.
"""

from sage_pipelines.destinations.base import DestinationKind
from sage_pipelines.destinations.mysql.capabilities import CAPABILITIES
from sage_pipelines.destinations.mysql.settings import MySQLSettings

KIND = DestinationKind(
    name="mysql", family="database", capabilities=CAPABILITIES, settings=MySQLSettings,
    destination="sage_pipelines.destinations.mysql.destination:MySQLDestination",
    client="sage_pipelines.destinations.mysql.client:CLIENT")
