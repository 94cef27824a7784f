"""`analyze`: proposed table configurations for a casilla, from a sample of its files.

Reads a sample of each catalog file (the given sample, else the casilla's newest upload in the
landing area), infers types and key candidates (`casilla.inference`) and proposes each table's
block of a materialization: tables with a key candidate get `strategy: upsert` on it, the
others `append`. Everything is a proposal for a person to review; `sage analyze` prints it as
commented YAML and the API returns it as data (with the same YAML).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sage_pipelines.casilla.inference import infer_columns, proposed_overrides
from sage_pipelines.casilla.readers import upload_members
from sage_pipelines.errors import ConfigError
from sage_pipelines.services.casillas import load_casilla
from sage_pipelines.services.uploads import latest_upload
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope


@dataclass
class Analysis:
    casilla: str
    source: Path  # what was sampled
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # catalog key -> proposed table block
    inferred: dict[str, dict[str, Any]] = field(default_factory=dict)  # catalog key -> `infer_columns` result
    missing: dict[str, str] = field(default_factory=dict)  # catalog key -> its filename, absent from the sample
    catalogs: list[str] = field(default_factory=list)  # every catalog key, in the SAGE YAML's order

    def to_yaml(self) -> str:
        """The proposed `tables:` YAML, with one comment line per catalog."""
        comments = [f"# Proposed by `sage analyze {self.casilla}` from {self.source}. Review before applying."]
        for key in self.catalogs:
            if key in self.missing:
                comments.append(f"# {key}: no file in the sample (filename {self.missing[key]!r})")
                continue
            inferred = self.inferred[key]
            candidates = ", ".join("[" + ", ".join(k) + "]" for k in inferred["key_candidates"]) or "none"
            comments.append(f"# {key}: {inferred['rows_sampled']} rows sampled from {inferred['file']}; "
                            f"key candidates: {candidates}")
        body = yaml.safe_dump({"tables": self.tables}, sort_keys=False, allow_unicode=True,
                              default_flow_style=None, width=100) if self.tables else "tables: {}\n"
        return "\n".join(comments) + "\n" + body


def table_block(catalog_key: str, inferred: dict[str, Any]) -> dict[str, Any]:
    """The proposed table block of one catalog."""
    block: dict[str, Any] = {"table": catalog_key}
    keys = inferred["key_candidates"]
    if keys:
        block["strategy"] = "upsert"
        block["primary_key"] = keys[0]
    else:
        block["strategy"] = "append"
    block["schema_change"] = "evolve"
    overrides = proposed_overrides(inferred)
    if overrides:
        block["columns"] = {name: {"type": t} for name, t in overrides.items()}
    return block


def analyze_casilla(name: str, sample: Path | None = None, sample_rows: int = 10_000,
                    home: SageHome | None = None) -> Analysis:
    """Proposals for casilla `name` from `sample` (a file, folder or ZIP), else its newest upload."""
    home = home or SageHome.from_env()
    if sample_rows < 1:
        raise ConfigError(f"rows must be at least 1, not {sample_rows}", field="rows")
    with session_scope(home) as session:
        _row, sage = load_casilla(session, name)
    if sample is not None:
        source = Path(sample)
    else:
        try:
            source = home.upload_dir(name, latest_upload(home, name))
        except ConfigError as exc:
            raise ConfigError(f"{exc}, or give a sample with --sample FILE_OR_DIR", field="sample") from None
    members = {m.catalog.key: m for m in upload_members(sage, source)}
    analysis = Analysis(casilla=name, source=source, catalogs=list(sage.catalogs))
    for key, catalog in sage.catalogs.items():
        member = members.get(key)
        if member is None:
            analysis.missing[key] = catalog.filename
            continue
        analysis.inferred[key] = infer_columns(member, sample_rows)
        analysis.tables[key] = table_block(key, analysis.inferred[key])
    return analysis
