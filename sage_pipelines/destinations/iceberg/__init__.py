"""Apache Iceberg tables through pyiceberg: SQL (SQLite / PostgreSQL) and REST catalogs.

`capabilities` and `settings` are data (imported with the registry); `catalog` opens the
catalog, `schema` maps types and partition transforms, `destination` writes one snapshot per
write. pyiceberg is imported only with `catalog` / `destination`.
"""

from sage_pipelines.destinations.base import DestinationKind
from sage_pipelines.destinations.iceberg.capabilities import CAPABILITIES
from sage_pipelines.destinations.iceberg.settings import IcebergSettings

KIND = DestinationKind(
    name="iceberg", family="lake", capabilities=CAPABILITIES, settings=IcebergSettings,
    destination="sage_pipelines.destinations.iceberg.destination:IcebergDestination")
