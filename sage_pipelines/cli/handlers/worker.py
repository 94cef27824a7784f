"""`sage worker NAME`: run a remote server's Celery worker on this machine."""

from __future__ import annotations

import argparse

from sage_pipelines.servers.worker import run_worker
from sage_pipelines.services.home import ready_home


def worker(args: argparse.Namespace) -> int:
    run_worker(args.name, ready_home(), loglevel=args.loglevel)
    return 0
