"""Benchmarks (`make bench`, not part of `make test`): each sub-benchmark is a module here.

They drive the destinations directly, and `sage materialize` end to end through the services
and `orchestration.run` (never through the CLI).
"""
