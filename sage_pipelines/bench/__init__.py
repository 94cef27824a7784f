"""Benchmarks (`make bench`, not part of `make test`): each sub-benchmark is a module here."""
