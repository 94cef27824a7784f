"""`sage analyze NAME [--sample FILE_OR_DIR] [--destination CONN] [--write FILE]`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="propose a materialization YAML (inferred types, key candidates)")
    p.add_argument("name", help="a registered casilla")
    p.add_argument("--sample", metavar="FILE_OR_DIR", help="a file, folder or ZIP to sample "
                                                             "(default: the newest upload)")
    p.add_argument("--rows", type=int, default=10_000, help="rows sampled per file (default 10000)")
    p.add_argument("--destination", metavar="CONN", default="warehouse",
                   help="the connection the tables go to (default: the built-in warehouse)")
    p.add_argument("--write", metavar="FILE", help="write the YAML to FILE instead of printing it")
    p.set_defaults(handler="analyze:analyze")
