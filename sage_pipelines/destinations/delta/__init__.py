"""Delta Lake tables through deltalake (delta-rs) at `<warehouse>/<namespace>/<table>/`."""

from sage_pipelines.destinations.delta.destination import DeltaDestination

__all__ = ["DeltaDestination"]
