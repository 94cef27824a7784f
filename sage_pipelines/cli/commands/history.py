"""`sage history [CASILLA] [--limit N]`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="MATERIALIZATION_HISTORY rows, newest first")
    p.add_argument("casilla", nargs="?", help="only this casilla's rows")
    p.add_argument("--limit", type=int, default=50, help="how many rows (default 50)")
    p.set_defaults(handler="history:history")
