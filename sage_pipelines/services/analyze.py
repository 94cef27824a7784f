"""Proposals for a casilla's materialization (`sage analyze`, and the console's materialization page).

Reads a sample of each catalog file (a given sample, else the casilla's newest upload), infers
column types and key candidates (`casilla.inference`), and proposes one `tables:` entry per
catalog: `strategy: upsert` on the first key candidate, else `append`; `schema_change: evolve`;
type overrides where the data needs other than the SAGE default. With no sample at all
(`declared_proposals`) the SAGE YAML alone proposes: its types, and its `unique` fields as keys.
Everything is a proposal for a person to review.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from sage_pipelines.casilla.inference import infer_columns
from sage_pipelines.casilla.model import Catalog, SageYaml
from sage_pipelines.casilla.readers import upload_members
from sage_pipelines.errors import ConfigError
from sage_pipelines.materialization.casillas import load_casilla
from sage_pipelines.services.uploads import latest_upload
from sage_pipelines.settings import SageHome
from sage_pipelines.types import SAGE_TYPES

DEFAULT_SAMPLE_ROWS = 10_000


@dataclass(frozen=True)
class ColumnProposal:
    """One column: its SAGE type, that type's default column type, and the proposed one."""

    name: str
    declared: str
    default: str
    proposed: str

    @property
    def override(self) -> str | None:
        """The `columns:` override worth writing, None when the SAGE default fits."""
        return self.proposed if self.proposed != self.default else None


@dataclass(frozen=True)
class TableProposal:
    catalog: str
    columns: tuple[ColumnProposal, ...]
    key_candidates: tuple[tuple[str, ...], ...]
    sampled_from: str | None = None  # the file read; None: proposed from the SAGE YAML alone
    rows_sampled: int = 0

    def block(self) -> dict[str, Any]:
        """The `tables:` entry this proposes (what `materializations apply` takes)."""
        block: dict[str, Any] = {"table": self.catalog}
        if self.key_candidates:
            block["strategy"] = "upsert"
            block["primary_key"] = list(self.key_candidates[0])
        else:
            block["strategy"] = "append"
        block["schema_change"] = "evolve"
        overrides = {c.name: {"type": c.override} for c in self.columns if c.override}
        if overrides:
            block["columns"] = overrides
        return block


@dataclass(frozen=True)
class Analysis:
    casilla: str
    source: str | None  # the sample (file, folder or ZIP) read; None: no sample
    tables: dict[str, TableProposal]
    missing: dict[str, str]  # catalog key -> its filename, for catalogs without a file in the sample
    catalogs: tuple[str, ...] = ()  # every catalog key, in the SAGE YAML's order

    def yaml(self) -> str:
        """The `tables:` block with a comment per catalog (what `sage analyze` prints)."""
        comments = [f"# Proposed by `sage analyze {self.casilla}` from {self.source}. Review before applying."]
        for key in self.catalogs:
            if key in self.missing:
                comments.append(f"# {key}: no file in the sample (filename {self.missing[key]!r})")
                continue
            t = self.tables[key]
            candidates = ", ".join("[" + ", ".join(k) + "]" for k in t.key_candidates) or "none"
            comments.append(f"# {key}: {t.rows_sampled} rows sampled from {t.sampled_from}; "
                            f"key candidates: {candidates}")
        tables = {key: t.block() for key, t in self.tables.items()}
        body = yaml.safe_dump({"tables": tables}, sort_keys=False, allow_unicode=True,
                              default_flow_style=None, width=100) if tables else "tables: {}\n"
        return "\n".join(comments) + "\n" + body


def declared_proposal(catalog: Catalog) -> TableProposal:
    """What the SAGE YAML alone proposes: the SAGE types, and each `unique` field as a key."""
    columns = tuple(ColumnProposal(f.name, f.type, str(SAGE_TYPES[f.type]), str(SAGE_TYPES[f.type]))
                    for f in catalog.fields)
    keys = tuple((f.name,) for f in catalog.fields if f.unique and f.required)
    return TableProposal(catalog.key, columns, keys)


def declared_proposals(sage: SageYaml) -> dict[str, TableProposal]:
    return {key: declared_proposal(c) for key, c in sage.catalogs.items()}


def sample_source(home: SageHome, casilla: str, sample: Path | None) -> Path:
    """The sample to read: the one given, else the casilla's newest upload."""
    if sample is not None:
        return Path(sample)
    try:
        return home.upload_dir(casilla, latest_upload(home, casilla))
    except ConfigError as exc:
        raise ConfigError(f"{exc}, or give a sample with --sample FILE_OR_DIR") from None


def analyze_casilla(session: Session, home: SageHome, casilla: str, sample: Path | None = None,
                    sample_rows: int = DEFAULT_SAMPLE_ROWS) -> Analysis:
    """Proposals for every catalog of `casilla` from `sample` (default: its newest upload)."""
    _row, sage = load_casilla(session, casilla)
    source = sample_source(home, casilla, sample)
    members = {m.catalog.key: m for m in upload_members(sage, source)}
    tables: dict[str, TableProposal] = {}
    missing: dict[str, str] = {}
    for key, catalog in sage.catalogs.items():
        member = members.get(key)
        if member is None:
            missing[key] = catalog.filename
            continue
        inferred = infer_columns(member, sample_rows)
        columns = tuple(ColumnProposal(f.name, f.type, str(SAGE_TYPES[f.type]), inferred["columns"][f.name]["type"])
                        for f in catalog.fields)
        tables[key] = TableProposal(key, columns, tuple(tuple(k) for k in inferred["key_candidates"]),
                                    member.display, inferred["rows_sampled"])
    return Analysis(casilla, str(source), tables, missing, tuple(sage.catalogs))
