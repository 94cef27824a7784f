"""`sage connections add | list | test | remove`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("connections", help="database connections over stored secrets")
    cmds = p.add_subparsers(dest="connections_command", required=True, metavar="ACTION")

    add = cmds.add_parser("add", help="register a connection")
    add.add_argument("name")
    add.add_argument("--secret", required=True, help="the secret holding host, user and password")
    add.add_argument("--database", help="database (overrides the secret's)")
    add.add_argument("--schema", help="default schema for tables without one")
    add.add_argument("--replace", action="store_true", help="update an existing connection in place")
    add.set_defaults(handler="connections:add")

    cmds.add_parser("list", help="list connections and their last test").set_defaults(
        handler="connections:list_all")

    test = cmds.add_parser("test", help="connect for real, run SELECT 1, record the outcome")
    test.add_argument("name")
    test.add_argument("--timeout", type=int, default=10, help="seconds to wait for the server")
    test.set_defaults(handler="connections:test")

    rm = cmds.add_parser("remove", help="remove a connection no materialization writes to")
    rm.add_argument("name")
    rm.set_defaults(handler="connections:remove")
