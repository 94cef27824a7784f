"""`sage materialize`, `sage backfill`, `sage demo` and `sage dev`: running things through Dagster."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("materialize", help="queue a casilla's upload in the Dagster run queue and wait for it")
    p.add_argument("casilla")
    p.add_argument("--upload", help="upload id (default: the newest)")
    p.add_argument("--table", action="append", help="only this table (catalog key or table name); repeatable")
    p.add_argument("--destination", action="append", help="only this destination alias; repeatable")
    _run_options(p)
    p.set_defaults(handler="run:materialize")

    p = sub.add_parser("backfill", help="re-materialize a range of a casilla's uploads, oldest first, one at a time")
    p.add_argument("casilla")
    p.add_argument("--from", dest="first", metavar="ID", help="first upload of the range (default: the oldest)")
    p.add_argument("--to", dest="last", metavar="ID", help="last upload of the range (default: the newest)")
    _run_options(p)
    p.set_defaults(handler="run:backfill")

    p = sub.add_parser("demo", help="the main job on embedded defaults; prints a summary")
    p.set_defaults(handler="run:demo")

    p = sub.add_parser("dev", help="the Dagster UI + daemon on this SAGE_HOME (stop it with Ctrl-C)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(handler="run:dev")


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--in-process", action="store_true",
                   help="execute in this process, bypassing the run queue and its limits (tests, debugging)")
    p.add_argument("--verbose", action="store_true", help="print Dagster's full log (a failure's stack traces too)")
