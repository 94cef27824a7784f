"""`sage audit`: the audit log's rows, filtered (`services.audit.list_audit`)."""

from __future__ import annotations

import argparse
import json

from sage_pipelines.cli.terminal import print_rows
from sage_pipelines.services.audit import list_audit
from sage_pipelines.services.durations import parse_since
from sage_pipelines.services.home import ready_home
from sage_pipelines.store.db import session_scope


def _compact(value: object) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def show(args: argparse.Namespace) -> int:
    since = parse_since(args.since) if args.since else None
    with session_scope(ready_home()) as session:
        rows = [(a.momento.isoformat(timespec="seconds"), a.actor, a.origen or "", a.cliente or "", a.accion,
                 a.objeto, _compact(a.antes), _compact(a.despues))
                for a in list_audit(session, obj=args.object, actor=args.actor, since=since, limit=args.limit)]
    print_rows(("TIME (UTC)", "ACTOR", "SOURCE", "CLIENT", "ACTION", "OBJECT", "BEFORE", "AFTER"), rows)
    return 0
