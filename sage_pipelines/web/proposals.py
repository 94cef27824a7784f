"""What the materialization page proposes per catalog: column types and key candidates.

From `services.analyze` (a sample, or the newest upload) when there is one; otherwise from the
SAGE YAML alone: its types, and its fields declared required and unique as key candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sage_pipelines.casilla.model import Catalog, SageYaml
from sage_pipelines.services.analyze import Analysis, table_block
from sage_pipelines.types import SAGE_TYPES


@dataclass(frozen=True)
class ColumnProposal:
    name: str
    proposed: str  # a type `types.parse_type` reads: varchar(16), decimal(12,2), date, ...


@dataclass(frozen=True)
class TableProposal:
    catalog: str
    columns: tuple[ColumnProposal, ...]
    key_candidates: tuple[tuple[str, ...], ...]
    block: dict[str, Any]  # the proposed `tables:` entry
    sampled_from: str | None = None  # None: from the SAGE YAML alone
    rows_sampled: int = 0


def declared_proposal(catalog: Catalog) -> TableProposal:
    columns = tuple(ColumnProposal(f.name, str(SAGE_TYPES[f.type])) for f in catalog.fields)
    keys = tuple((f.name,) for f in catalog.fields if f.unique and f.required)
    block: dict[str, Any] = {"table": catalog.key, "strategy": "upsert" if keys else "append",
                             "schema_change": "evolve"}
    if keys:
        block["primary_key"] = list(keys[0])
    return TableProposal(catalog.key, columns, keys, block)


def proposals(sage: SageYaml, analysis: Analysis | None) -> dict[str, TableProposal]:
    """One proposal per catalog: the analysis's where it sampled a file, else the SAGE YAML's."""
    out = {key: declared_proposal(c) for key, c in sage.catalogs.items()}
    for key, inferred in (analysis.inferred if analysis is not None else {}).items():
        columns = tuple(ColumnProposal(name, info["type"]) for name, info in inferred["columns"].items())
        out[key] = TableProposal(key, columns, tuple(tuple(k) for k in inferred["key_candidates"]),
                                 analysis.tables.get(key) or table_block(key, inferred), inferred["file"],
                                 inferred["rows_sampled"])
    return out
