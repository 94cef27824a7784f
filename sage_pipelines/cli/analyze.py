"""`sage analyze NAME [--sample FILE_OR_DIR]`: propose the `tables:` block of a materialization.

Prints what `services.analyze` proposes (the console's materialization page shows the same
proposals as a form): YAML to paste under `materialization:`, with a comment per catalog.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sage_pipelines.services.analyze import DEFAULT_SAMPLE_ROWS, analyze_casilla
from sage_pipelines.services.home import ready_home
from sage_pipelines.store.db import session_scope


def _cmd_analyze(args: argparse.Namespace) -> int:
    home = ready_home()
    with session_scope(home) as session:
        analysis = analyze_casilla(session, home, args.name, Path(args.sample) if args.sample else None, args.rows)
    print(analysis.yaml(), end="")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="propose table configs (inferred types, key candidates)")
    p.add_argument("name", help="a registered casilla")
    p.add_argument("--sample", metavar="FILE_OR_DIR", help="a file, folder or ZIP to sample "
                                                             "(default: the newest upload)")
    p.add_argument("--rows", type=int, default=DEFAULT_SAMPLE_ROWS, help="rows sampled per file (default 10000)")
    p.set_defaults(func=_cmd_analyze)
