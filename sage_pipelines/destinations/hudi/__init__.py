"""Apache Hudi copy-on-write tables, written in the Hudi table format in Python and read back with
hudi-rs (`destination.py` has the supported subset and the strategies).

`capabilities` and `settings` are data (imported with the registry); `table` / `timeline` /
`schema` / `writer` are the table-format code, `destination` the destination class. hudi-rs is
imported only when a table is read or written.
"""

from sage_pipelines.destinations.base import DestinationKind
from sage_pipelines.destinations.hudi.capabilities import CAPABILITIES
from sage_pipelines.destinations.hudi.settings import HudiSettings

KIND = DestinationKind(
    name="hudi", family="lake", capabilities=CAPABILITIES, settings=HudiSettings,
    destination="sage_pipelines.destinations.hudi.destination:HudiDestination")
