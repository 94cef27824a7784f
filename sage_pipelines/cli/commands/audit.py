"""`sage audit [--object X] [--actor U] [--since T] [--limit N]`: who changed what, newest first."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="the audit log: every change, its actor, source, before and after")
    p.add_argument("--object", help="one object: `secret:pg`, or just its name `pg`")
    p.add_argument("--actor", help="one actor: a user name, or cli:<os user>")
    p.add_argument("--since", metavar="T", help="from a date/time (2026-12-01, 2026-12-01T10:00, UTC) or an age (7d)")
    p.add_argument("--limit", type=int, default=100, help="how many rows (default 100, at most 1000)")
    p.set_defaults(handler="audit:show")
