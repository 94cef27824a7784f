"""`sage casillas add NAME --yaml FILE | list`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("casillas", help="casillas and their SAGE YAML")
    cmds = p.add_subparsers(dest="casillas_command", required=True, metavar="ACTION")
    add = cmds.add_parser("add", help="register a casilla (re-adding a name updates its YAML)")
    add.add_argument("name")
    add.add_argument("--yaml", required=True, metavar="FILE", help="the casilla's SAGE YAML")
    add.set_defaults(handler="casillas:add")
    cmds.add_parser("list", help="list registered casillas").set_defaults(handler="casillas:list_all")
