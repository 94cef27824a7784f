"""`sage uploads add CASILLA PATH [--id ID] | list CASILLA`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("uploads", help="immutable uploads of a casilla's files")
    cmds = p.add_subparsers(dest="uploads_command", required=True, metavar="ACTION")
    add = cmds.add_parser("add", help="copy a file, a folder or a ZIP package into landing; prints the id")
    add.add_argument("casilla")
    add.add_argument("path")
    add.add_argument("--id", help="the upload id (default: generated, sortable by time)")
    add.set_defaults(handler="uploads:add")
    lst = cmds.add_parser("list", help="list a casilla's uploads, oldest first")
    lst.add_argument("casilla")
    lst.set_defaults(handler="uploads:list_all")
