"""`sage init`: create SAGE_HOME, migrate the store, create the key, register built-ins."""

from __future__ import annotations

import argparse

from sage_pipelines.services.home import init_home


def _cmd_init(args: argparse.Namespace) -> int:
    home = init_home()
    print(f"SAGE_HOME ready at {home.root}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="create SAGE_HOME, migrate the store, create the key")
    p.set_defaults(func=_cmd_init)
