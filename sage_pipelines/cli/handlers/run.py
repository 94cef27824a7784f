"""`sage materialize`, `sage backfill`, `sage demo` and `sage dev`: running things through Dagster."""

from __future__ import annotations

import argparse
import os
import sys

from sage_pipelines.cli.process_group import run_process_group
from sage_pipelines.demo import run_demo
from sage_pipelines.orchestration.backfill import backfill as backfill_uploads
from sage_pipelines.orchestration.definitions_factory import check_store_current
from sage_pipelines.orchestration.follow import materialize_told
from sage_pipelines.orchestration.run import RunOutcome
from sage_pipelines.servers.instance import ensure_dagster_home
from sage_pipelines.settings import SageHome


def _say(line: str) -> None:
    print(line, flush=True)


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _failed(outcome: RunOutcome) -> int:
    """A failed outcome's last stdout line, then one line per failed step on stderr."""
    _say(f"run {outcome.run_id} failed for upload {outcome.upload_id} (full log: the Dagster UI, or --verbose)")
    for error in outcome.errors or [f"run {outcome.run_id} failed; see the Dagster UI"]:
        print(f"sage: error: {error}", file=sys.stderr)
    return 1


def materialize(args: argparse.Namespace) -> int:
    """What each table got on stdout; a failure ends in one line per failed step on stderr (Dagster's
    full log, with stack traces, is in the UI, and on the console with --verbose)."""
    outcome = materialize_told(args.casilla, args.upload, tables=args.table or None,
                               destinations=args.destination or None, echo=_say,
                               log=_log if args.verbose else None, in_process=args.in_process)
    return 0 if outcome.success else _failed(outcome)


def backfill(args: argparse.Namespace) -> int:
    """Each upload of the range in turn, its progress as `materialize` prints it; stops at a failure."""
    outcomes = backfill_uploads(args.casilla, args.first, args.last, echo=_say,
                                log=_log if args.verbose else None, in_process=args.in_process)
    last = outcomes[-1]
    if not last.success:
        code = _failed(last)
        print(f"sage: error: backfill stopped at upload {last.upload_id}; resume with "
              f"`sage backfill {args.casilla} --from {last.upload_id}`", file=sys.stderr)
        return code
    _say(f"backfill of {args.casilla}: {len(outcomes)} upload(s) re-materialized, "
         f"{outcomes[0].upload_id} to {last.upload_id}")
    return 0


def demo(args: argparse.Namespace) -> int:
    run_demo()
    return 0


def dev(args: argparse.Namespace) -> int:
    """`dagster dev` on this SAGE_HOME, stopped as a whole by Ctrl-C or a SIGINT/SIGTERM to this
    process. The store must be migrated first (`sage init`): the code location only reads it."""
    home = SageHome.from_env()
    check_store_current(home)
    ensure_dagster_home(home)
    cmd = [sys.executable, "-m", "dagster", "dev", "-m", "sage_pipelines.definitions",
           "--host", args.host, "--port", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port} (SAGE_HOME={home.root}, "
          f"DAGSTER_HOME={os.environ['DAGSTER_HOME']}); stop it with Ctrl-C or `kill {os.getpid()}`", flush=True)
    return run_process_group(cmd, os.environ.copy())
