"""`sage init`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="create SAGE_HOME, migrate the store, create the key")
    p.set_defaults(handler="setup:init")
