"""`sage materialize`, `sage demo` and `sage dev`: running things through Dagster."""

from __future__ import annotations

import argparse
import os
import sys

from sage_pipelines.cli.process_group import run_process_group
from sage_pipelines.demo import run_demo
from sage_pipelines.orchestration.run import materialize_upload
from sage_pipelines.servers.instance import ensure_dagster_home
from sage_pipelines.services.home import init_home
from sage_pipelines.settings import SageHome


def materialize(args: argparse.Namespace) -> int:
    """What each table got on stdout; a failure ends in one line per failed step on stderr (Dagster's
    full log, with stack traces, is in the UI, and on the console with --verbose)."""
    outcome = materialize_upload(args.casilla, args.upload, tables=args.table or None,
                                 destinations=args.destination or None,
                                 log_level="DEBUG" if args.verbose else "CRITICAL")
    for asset in outcome.assets:
        m = asset.metadata
        print(f"{'/'.join(asset.key)}: {m.get('dagster/table_name')} rows={m.get('dagster/row_count')} "
              f"inserted={m.get('inserted')} updated={m.get('updated')} deleted={m.get('deleted')} "
              f"seconds={m.get('seconds')} server={m.get('server')}")
    if not outcome.success:
        print(f"run {outcome.run_id} failed for upload {outcome.upload_id} (full log: the Dagster UI, "
              f"or --verbose)", flush=True)
        for error in outcome.errors or [f"run {outcome.run_id} failed; see the Dagster UI"]:
            print(f"sage: error: {error}", file=sys.stderr)
        return 1
    print(f"run {outcome.run_id} succeeded for upload {outcome.upload_id}")
    return 0


def demo(args: argparse.Namespace) -> int:
    run_demo()
    return 0


def dev(args: argparse.Namespace) -> int:
    """`dagster dev` on this SAGE_HOME, stopped as a whole by Ctrl-C or a SIGINT/SIGTERM to this process."""
    home = init_home(SageHome.from_env())
    ensure_dagster_home(home)
    cmd = [sys.executable, "-m", "dagster", "dev", "-m", "sage_pipelines.definitions",
           "--host", args.host, "--port", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port} (SAGE_HOME={home.root}, "
          f"DAGSTER_HOME={os.environ['DAGSTER_HOME']}); stop it with Ctrl-C or `kill {os.getpid()}`", flush=True)
    return run_process_group(cmd, os.environ.copy())
