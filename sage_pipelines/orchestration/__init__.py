"""Dagster: the asset factory, IO managers per destination kind, sensors, schedules, jobs, and
running an upload now.

`definitions_factory` builds the code location from the store (`load_job` rebuilds a job in
each process), `assets` / `io_managers` (writes through `services.destinations`, records
history), `jobs` and `routing` (one run per server the balancer chose), `sensors` (landing),
`executions` (SAGE executions as uploads), `schedules`, `run` (`sage materialize`). The top
library layer: only the demo, the benchmarks and the CLI build on it.
"""
