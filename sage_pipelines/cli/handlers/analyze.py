"""`sage analyze NAME [--sample FILE_OR_DIR] [--destination CONN] [--write FILE]`: print (or write) a
proposed materialization YAML that `sage materializations apply` takes unchanged."""

from __future__ import annotations

import argparse
from pathlib import Path

from sage_pipelines.errors import ConfigError
from sage_pipelines.services.analysis import analyze_casilla
from sage_pipelines.services.home import ready_home
from sage_pipelines.store.db import session_scope


def analyze(args: argparse.Namespace) -> int:
    home = ready_home()
    with session_scope(home) as session:
        text = analyze_casilla(session, home, args.name, Path(args.sample) if args.sample else None, args.rows,
                               connection=args.destination)
    if args.write is None:
        print(text, end="")
        return 0
    try:
        Path(args.write).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--write {args.write}: cannot write ({exc.strerror})") from None
    print(f"wrote {args.write}; review it, then `sage materializations apply {args.write}`")
    return 0
