"""`sage audit [--object X] [--actor U] [--since T] [--limit N]`: who changed what, newest first."""

from __future__ import annotations

import argparse
import json

from sage_pipelines.cli.secrets import print_rows
from sage_pipelines.services.audit import list_audit
from sage_pipelines.services.durations import parse_since
from sage_pipelines.services.home import ready_home
from sage_pipelines.store.db import session_scope


def _compact(value: object) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _cmd_audit(args: argparse.Namespace) -> int:
    since = parse_since(args.since) if args.since else None
    with session_scope(ready_home()) as session:
        rows = [(a.momento.isoformat(timespec="seconds"), a.actor, a.origen or "",
                 a.cliente or "", a.accion, a.objeto, _compact(a.antes), _compact(a.despues))
                for a in list_audit(session, obj=args.object, actor=args.actor, since=since, limit=args.limit)]
    print_rows(("TIME (UTC)", "ACTOR", "SOURCE", "CLIENT", "ACTION", "OBJECT", "BEFORE", "AFTER"), rows)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="the audit log: every change, its actor, source, before and after")
    p.add_argument("--object", help="one object: `secret:pg`, or just its name `pg`")
    p.add_argument("--actor", help="one actor: a user name, or cli:<os user>")
    p.add_argument("--since", metavar="T", help="from a date/time (2026-12-01, 2026-12-01T10:00, UTC) or an age (7d)")
    p.add_argument("--limit", type=int, default=100, help="how many rows (default 100, at most 1000)")
    p.set_defaults(func=_cmd_audit)
