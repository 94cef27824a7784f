"""The metadata store, persistence only: SQLAlchemy models, Alembic migrations, sessions, and
the queries and row writers everyone shares.

`models` (the plan's tables and column names), `db` (engines, `migrate`, `session_scope`,
`store_exists`), `lookup` (a row by its `nombre`, with the one-line error when it is missing),
`audit` (the audit-row writer) and `history` (materialization history rows). No rules live here:
what may be stored, changed or removed is `services/`; `credenciales` is ciphertext made by
`sage_pipelines.crypto`. The store imports only the core.
"""
