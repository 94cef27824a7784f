"""`sage materializations apply FILE.yaml | export NAME | list`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("materializations", help="what each casilla materializes, where and how")
    cmds = p.add_subparsers(dest="materializations_command", required=True, metavar="ACTION")
    apply = cmds.add_parser("apply", help="create or update a materialization from its YAML")
    apply.add_argument("file", metavar="FILE.yaml")
    apply.set_defaults(handler="materializations:apply")
    export = cmds.add_parser("export", help="print a materialization as YAML (round-trips with apply)")
    export.add_argument("name")
    export.set_defaults(handler="materializations:export")
    cmds.add_parser("list", help="list materializations").set_defaults(handler="materializations:list_all")
