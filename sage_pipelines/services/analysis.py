"""`sage analyze`: a materialization proposed from a sample of a casilla's files.

The sample is the given file, folder or ZIP, else the casilla's newest upload in the landing
area. Each catalog's file is read through the casilla's own reader (same encoding, header and
delimiter rules), its types and key candidates inferred (`casilla.inference`), and the
proposal (`materialization.proposal`) goes to one database connection: the built-in
`warehouse` unless another is named. `sage analyze` prints it as YAML that `materializations
apply` takes; the API returns the same document as JSON (what its `POST /materializations`
takes), with what was inferred per column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from sage_pipelines.casilla.inference import infer_columns
from sage_pipelines.casilla.readers import upload_members
from sage_pipelines.errors import ConfigError
from sage_pipelines.materialization.casillas import load_casilla
from sage_pipelines.materialization.model import DestinationSpec, MaterializationSpec
from sage_pipelines.materialization.proposal import propose_spec, proposal_yaml
from sage_pipelines.services.connections import get_connection
from sage_pipelines.services.home import WAREHOUSE
from sage_pipelines.services.uploads import latest_upload
from sage_pipelines.settings import SageHome

DESTINATION_ALIAS = "warehouse"  # the alias the proposal gives its one destination


@dataclass
class Proposal:
    """What `analyze` found and proposes: `spec` (the materialization), `inferred` (per catalog
    key, `infer_columns`' result), `notes` (what was sampled, one line per catalog)."""

    spec: MaterializationSpec
    inferred: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def yaml(self) -> str:
        """The proposal as `sage analyze` prints it and `materializations apply` takes it."""
        return proposal_yaml(self.spec, self.notes)


def propose(session: Session, home: SageHome, name: str, sample: Path | None = None, sample_rows: int = 10_000,
            connection: str = WAREHOUSE, sample_name: str | None = None) -> Proposal:
    """The proposal for casilla `name` from `sample` (default: its newest upload). `sample_name`
    is how the notes name the sample (the API's uploaded file, not where it was saved)."""
    _row, sage = load_casilla(session, name)
    get_connection(session, connection)  # a misspelt connection is a mistake now, not at apply
    if sample is not None:
        source = Path(sample)
    else:
        try:
            source = home.upload_dir(name, latest_upload(home, name))
        except ConfigError as exc:
            raise ConfigError(f"{exc}, or give a sample with --sample FILE_OR_DIR", field="sample") from None
    members = {m.catalog.key: m for m in upload_members(sage, source)}
    notes = [f"Proposed by `sage analyze {name}` from {sample_name or source}. "
             "Review, then `sage materializations apply` it."]
    inferred: dict[str, dict[str, Any]] = {}
    for key, catalog in sage.catalogs.items():
        member = members.get(key)
        if member is None:
            notes.append(f"{key}: no file in the sample (filename {catalog.filename!r}): append, no key")
            continue
        inferred[key] = infer_columns(member, sample_rows)
        candidates = ", ".join("[" + ", ".join(k) + "]" for k in inferred[key]["key_candidates"]) or "none"
        notes.append(f"{key}: {inferred[key]['rows_sampled']} rows sampled from {member.display}; "
                     f"key candidates: {candidates}")
    spec = propose_spec(name, sage, inferred, DestinationSpec(DESTINATION_ALIAS, connection=connection))
    return Proposal(spec, inferred, notes)


def analyze_casilla(session: Session, home: SageHome, name: str, sample: Path | None = None,
                    sample_rows: int = 10_000, connection: str = WAREHOUSE) -> str:
    """The proposed materialization YAML for casilla `name`, with comments saying what was sampled."""
    return propose(session, home, name, sample, sample_rows, connection).yaml()
