"""`sage analyze NAME [--sample FILE_OR_DIR]`: propose the `tables:` block of a materialization.

Reads a sample of each catalog file (the given sample, else the casilla's newest upload in the
landing area), infers types and key candidates, and prints YAML to paste under
`materialization:`. Tables with a key candidate get `strategy: upsert` on it; the others
`append`. Everything is a proposal for a person to review.
"""

from __future__ import annotations

import argparse
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


def _table_block(catalog_key: str, inferred: dict[str, Any]) -> dict[str, Any]:
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
                    home: SageHome | None = None) -> str:
    """The proposed `tables:` YAML (with comments) for casilla `name`."""
    home = home or SageHome.from_env()
    with session_scope(home) as session:
        _row, sage = load_casilla(session, name)
    if sample is not None:
        source = Path(sample)
    else:
        try:
            source = home.upload_dir(name, latest_upload(home, name))
        except ConfigError as exc:
            raise ConfigError(f"{exc}, or give a sample with --sample FILE_OR_DIR") from None
    members = {m.catalog.key: m for m in upload_members(sage, source)}
    comments = [f"# Proposed by `sage analyze {name}` from {source}. Review before applying."]
    tables: dict[str, Any] = {}
    for key in sage.catalogs:
        member = members.get(key)
        if member is None:
            comments.append(f"# {key}: no file in the sample (filename {sage.catalogs[key].filename!r})")
            continue
        inferred = infer_columns(member, sample_rows)
        candidates = ", ".join("[" + ", ".join(k) + "]" for k in inferred["key_candidates"]) or "none"
        comments.append(f"# {key}: {inferred['rows_sampled']} rows sampled from {member.display}; "
                        f"key candidates: {candidates}")
        tables[key] = _table_block(key, inferred)
    body = yaml.safe_dump({"tables": tables}, sort_keys=False, allow_unicode=True,
                          default_flow_style=None, width=100) if tables else "tables: {}\n"
    return "\n".join(comments) + "\n" + body


def _cmd_analyze(args: argparse.Namespace) -> int:
    print(analyze_casilla(args.name, Path(args.sample) if args.sample else None, args.rows), end="")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="propose table configs (inferred types, key candidates)")
    p.add_argument("name", help="a registered casilla")
    p.add_argument("--sample", metavar="FILE_OR_DIR", help="a file, folder or ZIP to sample "
                                                             "(default: the newest upload)")
    p.add_argument("--rows", type=int, default=10_000, help="rows sampled per file (default 10000)")
    p.set_defaults(func=_cmd_analyze)
