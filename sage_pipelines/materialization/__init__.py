"""The materialization model: which casilla tables go where, with which keys and strategy.

`model` holds the typed spec (and the server words `auto` / `local`), `loader` turns the YAML
into it, `validate` checks it against the casilla and the store, `persist` maps it onto store
rows and back, `export` prints it as canonical YAML, `plan` resolves what the Dagster asset
factory consumes, `casillas` reads a registered casilla's SAGE YAML, and `names` checks names
that become paths and Dagster names. It may query the store; applying a YAML (validate, store,
audit) is `services.materializations`.
"""
