"""`sage worker NAME`: run a remote server's Celery worker on this machine."""

from __future__ import annotations

import argparse

from sage_pipelines.servers.worker import run_worker
from sage_pipelines.services.home import ready_home


def _cmd_worker(args: argparse.Namespace) -> int:
    run_worker(args.name, ready_home(), loglevel=args.loglevel)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="run remote server NAME's worker (Celery) on this machine")
    p.add_argument("name")
    p.add_argument("--loglevel", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    p.set_defaults(func=_cmd_worker)
