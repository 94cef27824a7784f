"""Destinations: where materialized tables live. One interface (`base.Destination`), one module
(or folder) per kind, listed in `registry` (`DESTINATION_KINDS`, `LAKE_FORMATS`).

`sql/` is the SQL core the database kinds plug a dialect into (`duckdb`, `postgres`, `mysql`,
`sqlserver/`); `lake/` the core the table formats share (`iceberg/`, `delta/`, `hudi/`);
`drivers` opens and probes DB-API connections the same way for writes and `connections test`;
`evolution` is the one schema-evolution planner every kind asks before it writes.
A destination knows nothing of the store: it is built from `ConnectionSettings` /
`LakeSettings` (`base`), which `services.destinations` makes from store records.
"""
