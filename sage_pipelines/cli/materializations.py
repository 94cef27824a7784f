"""`sage materializations apply FILE.yaml | export NAME | list`."""

from __future__ import annotations

import argparse
import sys

from sage_pipelines.cli.casillas import read_text_file
from sage_pipelines.cli.secrets import print_rows
from sage_pipelines.services.home import ready_home
from sage_pipelines.services.materializations import (apply_materialization, export_materialization,
                                                      list_materializations)
from sage_pipelines.store.db import session_scope


def _cmd_apply(args: argparse.Namespace) -> int:
    text = read_text_file(args.file)
    with session_scope(ready_home()) as session:
        row = apply_materialization(session, text, args.file)
        summary = f"materialization {row.nombre} applied: {len(row.tables)} tables, " \
                  f"destinations {', '.join(d.nombre for d in row.destinations)}"
    print(summary)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        text = export_materialization(session, args.name)
    sys.stdout.write(text)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(m.nombre, m.casilla.nombre, ", ".join(t.catalogo for t in m.tables),
                 ", ".join(d.nombre for d in m.destinations), m.servidor, m.schedule,
                 "yes" if m.activo else "no")
                for m in list_materializations(session)]
    print_rows(("NAME", "CASILLA", "TABLES", "DESTINATIONS", "SERVER", "SCHEDULE", "ACTIVE"), rows)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("materializations", help="what each casilla materializes, where and how")
    cmds = p.add_subparsers(dest="materializations_command", required=True, metavar="ACTION")
    apply = cmds.add_parser("apply", help="create or update a materialization from its YAML")
    apply.add_argument("file", metavar="FILE.yaml")
    apply.set_defaults(func=_cmd_apply)
    export = cmds.add_parser("export", help="print a materialization as YAML (round-trips with apply)")
    export.add_argument("name")
    export.set_defaults(func=_cmd_export)
    cmds.add_parser("list", help="list materializations").set_defaults(func=_cmd_list)
