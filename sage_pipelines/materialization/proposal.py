"""A proposed materialization for a casilla, from what a sample of its files holds (`sage analyze`).

The proposal is a complete `MaterializationSpec`, written out by the same `dump_spec` as
`materializations export`, so what `analyze` prints is a document `materializations apply`
takes unchanged. One table per catalog, named like it: `upsert` on the first key candidate
(the sample's unique, non-null columns), else `append`; inferred types as column overrides
where they differ from the SAGE type; `schema_change: evolve`. It is a starting point for a
person to review: later uploads may hold longer or wider values, or break a key candidate.
"""

from __future__ import annotations

from typing import Any

from sage_pipelines.casilla.inference import proposed_overrides
from sage_pipelines.casilla.model import SageYaml
from sage_pipelines.destinations.base import SchemaChange, Strategy
from sage_pipelines.materialization.export import dump_spec
from sage_pipelines.materialization.model import DestinationSpec, MaterializationSpec, TableConfig, TableTarget
from sage_pipelines.types import parse_type


def propose_spec(casilla: str, sage: SageYaml, inferred: dict[str, dict[str, Any]],
                 destination: DestinationSpec | None) -> MaterializationSpec:
    """Every catalog of `sage` into `destination` (None: none yet, for a form to pick them);
    `inferred` (catalog key -> `infer_columns` result) may lack catalogs the sample had no file
    for: those get `append` and no overrides."""
    aliases = (destination.alias,) if destination is not None else ()
    tables = {}
    for key in sage.catalogs:
        found = inferred.get(key)
        candidates = found["key_candidates"] if found else []
        overrides = proposed_overrides(found) if found else {}
        tables[key] = TableConfig(
            catalog=key, target=TableTarget(key),
            strategy=Strategy.UPSERT if candidates else Strategy.APPEND,
            destinations=aliases,
            primary_key=tuple(candidates[0]) if candidates else (),
            schema_change=SchemaChange.EVOLVE,
            columns={name: parse_type(t, f"{key}.{name}") for name, t in overrides.items()})
    return MaterializationSpec(name=casilla, casilla=casilla, tables=tables,
                               destinations={destination.alias: destination} if destination is not None else {})


def proposal_yaml(spec: MaterializationSpec, notes: list[str]) -> str:
    """The proposal as YAML, after `notes` as comment lines."""
    return "".join(f"# {note}\n" for note in notes) + dump_spec(spec)
