"""Services: every rule the CLI (and any future API) shares, one module per entity.

A service function takes a store session (and the home where it needs files or keys) and
applies the rules of its entity: names, what may be removed while in use, what is audited,
what is checked before anything is written. `home` (what `sage init` does), `secrets`,
`connections`, `lakes`, `casillas`, `materializations`, `uploads`, `servers`, `history`, and
`destinations` (a ready destination from a connection or lake name).

Layer: above the store, the destinations, the casilla model and the materialization model;
below `servers`, `orchestration` and the command line.
"""
