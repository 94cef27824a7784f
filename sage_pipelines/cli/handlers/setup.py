"""`sage init`: create SAGE_HOME, migrate the store, create the key, register built-ins."""

from __future__ import annotations

import argparse

from sage_pipelines.services.home import init_home


def init(args: argparse.Namespace) -> int:
    home = init_home()
    print(f"SAGE_HOME ready at {home.root}")
    return 0
