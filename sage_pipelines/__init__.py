"""SAGE Materialize: casilla uploads become exact, query-ready tables, orchestrated by Dagster.

Layers, bottom to top; a layer imports only the layers below it, at module level (`make test`
checks this with `lint-imports`, contract in setup.cfg):

1. core: `errors`; `types`, `security`, `settings`; `crypto` (top-level modules)
2. `store` (persistence), `destinations` (writers), `casilla` (SAGE YAML and readers): none of
   the three imports another
3. `materialization` (the materialization model: spec, validation, plans)
4. `services` (every rule the CLI and a future API share)
5. `servers` (balancer, Celery workers, health)
6. `orchestration` (Dagster)
7. `demo`, `bench`, `definitions` (Dagster's code location)
8. `cli`
"""

__version__ = "0.1.0"
