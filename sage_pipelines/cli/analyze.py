"""`sage analyze NAME [--sample FILE_OR_DIR]`: propose the `tables:` block of a materialization.

The proposals are `services.analyze`'s (the API's `analyze` returns the same); this prints them
as commented YAML to paste under `materialization:`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sage_pipelines.services.analyze import analyze_casilla


def _cmd_analyze(args: argparse.Namespace) -> int:
    analysis = analyze_casilla(args.name, Path(args.sample) if args.sample else None, args.rows)
    print(analysis.to_yaml(), end="")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="propose table configs (inferred types, key candidates)")
    p.add_argument("name", help="a registered casilla")
    p.add_argument("--sample", metavar="FILE_OR_DIR", help="a file, folder or ZIP to sample "
                                                             "(default: the newest upload)")
    p.add_argument("--rows", type=int, default=10_000, help="rows sampled per file (default 10000)")
    p.set_defaults(func=_cmd_analyze)
