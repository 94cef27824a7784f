"""The materialization spec: which casilla tables go where, with which keys and strategy.

`loader` turns the YAML into a typed `MaterializationSpec`, `validate` checks it against the
casilla and the store, `persist` stores it, `export` prints it back, and `plan` resolves what
the Dagster asset factory consumes.
"""
