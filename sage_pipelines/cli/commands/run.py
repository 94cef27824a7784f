"""`sage materialize`, `sage demo` and `sage dev`: running things through Dagster."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("materialize", help="run a casilla's upload now through Dagster and wait")
    p.add_argument("casilla")
    p.add_argument("--upload", help="upload id (default: the newest)")
    p.add_argument("--table", action="append", help="only this table (catalog key or table name); repeatable")
    p.add_argument("--destination", action="append", help="only this destination alias; repeatable")
    p.add_argument("--verbose", action="store_true", help="print Dagster's full log (a failure's stack traces too)")
    p.set_defaults(handler="run:materialize")

    p = sub.add_parser("demo", help="the main job on embedded defaults; prints a summary")
    p.set_defaults(handler="run:demo")

    p = sub.add_parser("dev", help="the Dagster UI + daemon on this SAGE_HOME")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(handler="run:dev")
