"""Destinations: where materialized tables live. One interface (`base.Destination`), one folder
per kind, one list of kinds (`registry`).

Layout:
- `base`: the interface and the data it exchanges (`TableSpec`, `WriteResult`, the settings a
  destination is built from), and what a kind is as data: `Capabilities` (strategies, identifier
  rules, transactional DDL, partition transforms, writer scope, schemas) and `DestinationKind`.
- `registry`: the kinds, and everything derived from them (database kinds = secret types, lake
  formats, capabilities by name, the destination class and `probe` loaded on first use).
- `<kind>/` for postgresql, mysql, sqlserver, duckdb, iceberg, delta, hudi: `__init__` (its
  `KIND`), `capabilities` and `settings` (data: imported with the registry, so no driver is),
  `client` (databases: the connect code writes and `connections test` share), its type map and
  its SQL dialect or table-format code, and `destination` (the class the registry loads).
- Shared cores: `sql/` (the write algorithm every database shares, `connect`: probing and the
  one explanation of connect failures), `lake/` (what the table formats share), `evolution` (the
  one schema-evolution planner every kind asks before it writes).
A destination knows nothing of the store: it is built from `ConnectionSettings` / `LakeSettings`
(`base`), which `services` makes from store records.

Adding a kind (say ClickHouse) touches its folder, one line of the registry and its tests:
1. `destinations/clickhouse/`: `capabilities.py` (a `Capabilities`: what the validator refuses at
   `materializations apply` and the run queue's writer scope come from here), `settings.py` (a
   typed settings model whose fields and `OPTIONS` document the options it takes), `client.py`
   (databases: `open_connection(settings, timeout)` ready for a write and `CLIENT =
   sql.connect.Client(...)`, which `connections test` runs), a type map, and `destination.py`
   (databases: a `sql.Dialect` subclass and a two-line `SqlDestination` subclass; lakes: a
   `lake.destination.LakeDestination` subclass); `__init__.py` declares `KIND =
   DestinationKind(name, family, capabilities, settings, destination="module:Class",
   client="module:CLIENT")` and imports nothing heavy.
2. `registry.py`: import the package and add `clickhouse.KIND` to `KINDS`. The secret types and
   `--type` choices (databases), the lake formats (lakes), the IO managers, the validator and
   the writer tags follow.
3. Tests: its module running `destination_scenarios.DestinationScenarios` (and its case in
   `destination_kinds.py` for the property tests), plus what is particular to it.
"""
