"""`sage analyze`: a materialization proposed from a sample of a casilla's files.

The sample is the given file, folder or ZIP, else the casilla's newest upload in the landing
area. Each catalog's file is read through the casilla's own reader (same encoding, header and
delimiter rules), its types and key candidates inferred (`casilla.inference`), and the
proposal (`materialization.proposal`) goes to one database connection: the built-in
`warehouse` unless another is named. `sage analyze` prints it as YAML that `materializations
apply` takes; the API returns the same document as JSON (what its `POST /materializations`
takes), with what was inferred per column. The console's materialization page pre-fills its
form from the same proposal, with no destination yet (the user picks them on the page), and
before the casilla's first upload from its SAGE YAML alone (`propose_declared`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from sage_pipelines.casilla.inference import infer_columns
from sage_pipelines.casilla.model import Catalog
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


class NoSample(ConfigError):
    """No sample was given and the casilla has no upload to sample."""


@dataclass
class Proposal:
    """What `analyze` found and proposes: `spec` (the materialization), `inferred` (per catalog
    key, `infer_columns`' result), `notes` (what was sampled, one line per catalog), `source`
    (the file, folder or ZIP sampled; None: the SAGE YAML alone)."""

    spec: MaterializationSpec
    inferred: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: Path | None = None

    def yaml(self) -> str:
        """The proposal as `sage analyze` prints it and `materializations apply` takes it."""
        return proposal_yaml(self.spec, self.notes)


def propose(session: Session, home: SageHome, name: str, sample: Path | None = None, sample_rows: int = 10_000,
            connection: str | None = WAREHOUSE, sample_name: str | None = None) -> Proposal:
    """The proposal for casilla `name` from `sample` (default: its newest upload, else `NoSample`).
    `sample_name` is how the notes name the sample (the API's uploaded file, not where it was
    saved). `connection` None: the tables go to no destination yet."""
    _row, sage = load_casilla(session, name)
    destination = _destination(session, connection)
    if sample is not None:
        source = Path(sample)
    else:
        try:
            source = home.upload_dir(name, latest_upload(home, name))
        except ConfigError as exc:
            raise NoSample(f"{exc}, or give a sample with --sample FILE_OR_DIR", field="sample") from None
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
    return Proposal(propose_spec(name, sage, inferred, destination), inferred, notes, source)


def propose_declared(session: Session, name: str, connection: str | None = WAREHOUSE) -> Proposal:
    """The proposal for casilla `name` before it has any upload, from its SAGE YAML alone: the
    SAGE types, and as key candidates the fields declared both required and unique."""
    _row, sage = load_casilla(session, name)
    destination = _destination(session, connection)
    inferred = {key: declared_columns(catalog) for key, catalog in sage.catalogs.items()}
    notes = [f"Proposed from the SAGE YAML of {name} alone (no upload yet): SAGE types, keys declared "
             "required and unique. Review, then `sage materializations apply` it."]
    return Proposal(propose_spec(name, sage, inferred, destination), inferred, notes)


def declared_columns(catalog: Catalog) -> dict[str, Any]:
    """What the SAGE YAML says of `catalog`, shaped like `infer_columns`' result (no rows sampled)."""
    return {"catalog": catalog.key, "file": None, "rows_sampled": 0,
            "columns": {f.name: {"type": str(f.column_type), "declared": f.type, "nulls": None, "max_length": None}
                        for f in catalog.fields},
            "key_candidates": [[f.name] for f in catalog.fields if f.required and f.unique]}


def _destination(session: Session, connection: str | None) -> DestinationSpec | None:
    if connection is None:
        return None
    get_connection(session, connection)  # a misspelt connection is a mistake now, not at apply
    return DestinationSpec(DESTINATION_ALIAS, connection=connection)


def analyze_casilla(session: Session, home: SageHome, name: str, sample: Path | None = None,
                    sample_rows: int = 10_000, connection: str = WAREHOUSE) -> str:
    """The proposed materialization YAML for casilla `name`, with comments saying what was sampled."""
    return propose(session, home, name, sample, sample_rows, connection).yaml()
