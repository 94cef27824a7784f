"""`sage materialize`, `sage demo` and `sage dev`: running things through Dagster."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from sage_pipelines.demo import run_demo
from sage_pipelines.orchestration.run import materialize_upload
from sage_pipelines.servers.instance import ensure_dagster_home
from sage_pipelines.services.home import init_home
from sage_pipelines.settings import SageHome


def _cmd_materialize(args: argparse.Namespace) -> int:
    # Dagster's console log would print each failed step's stack trace on stderr; the run's
    # events stay in the instance (Dagster UI), and the failure is reported below in one line.
    outcome = materialize_upload(args.casilla, args.upload, tables=args.table or None,
                                 destinations=args.destination or None, log_level="CRITICAL")
    for asset in outcome.assets:
        m = asset.metadata
        print(f"{'/'.join(asset.key)}: {m.get('dagster/table_name')} rows={m.get('dagster/row_count')} "
              f"inserted={m.get('inserted')} updated={m.get('updated')} deleted={m.get('deleted')} "
              f"seconds={m.get('seconds')} server={m.get('server')}")
    if not outcome.success:
        for error in outcome.errors or ["see the Dagster UI"]:
            print(f"sage: error: run {outcome.run_id} failed: {error}", file=sys.stderr)
        return 1
    print(f"run {outcome.run_id} succeeded for upload {outcome.upload_id}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    run_demo()
    return 0


def _cmd_dev(args: argparse.Namespace) -> int:
    home = init_home(SageHome.from_env())
    ensure_dagster_home(home)
    cmd = [sys.executable, "-m", "dagster", "dev", "-m", "sage_pipelines.definitions",
           "--host", args.host, "--port", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port} (SAGE_HOME={home.root}, DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
    return subprocess.call(cmd, env=os.environ.copy())


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("materialize", help="run a casilla's upload now through Dagster and wait")
    p.add_argument("casilla")
    p.add_argument("--upload", help="upload id (default: the newest)")
    p.add_argument("--table", action="append", help="only this table (catalog key or table name); repeatable")
    p.add_argument("--destination", action="append", help="only this destination alias; repeatable")
    p.set_defaults(func=_cmd_materialize)

    p = sub.add_parser("demo", help="the main job on embedded defaults; prints a summary")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("dev", help="the Dagster UI + daemon on this SAGE_HOME")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=_cmd_dev)
