"""Delta Lake tables through deltalake (delta-rs) at `<warehouse>/<namespace>/<table>/`.

`capabilities` and `settings` are data (imported with the registry); `partitioning` maps the
transforms to derived columns, `destination` makes one Delta commit per write. deltalake is
imported only with `destination`.
"""

from sage_pipelines.destinations.base import DestinationKind
from sage_pipelines.destinations.delta.capabilities import CAPABILITIES
from sage_pipelines.destinations.delta.settings import DeltaSettings

KIND = DestinationKind(
    name="delta", family="lake", capabilities=CAPABILITIES, settings=DeltaSettings,
    destination="sage_pipelines.destinations.delta.destination:DeltaDestination")
