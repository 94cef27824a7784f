"""`sage lakes add | list | remove`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lakes", help="data lakes: a warehouse URI and an Iceberg catalog")
    cmds = p.add_subparsers(dest="lakes_command", required=True, metavar="ACTION")

    add = cmds.add_parser("add", help="register a lake")
    add.add_argument("name")
    add.add_argument("--warehouse", required=True, metavar="URI", help="file:///path or s3://bucket/prefix")
    add.add_argument("--catalog-uri", metavar="URI",
                     help="Iceberg SQL catalog (default for file:// lakes: sqlite:///<lake>/catalog.db)")
    add.add_argument("--secret", help="an s3 secret holding the access keys (s3:// lakes)")
    add.add_argument("--option", action="append", metavar="KEY=VALUE", help="storage or catalog option")
    add.add_argument("--replace", action="store_true", help="update an existing lake in place")
    add.set_defaults(handler="lakes:add")

    cmds.add_parser("list", help="list lakes").set_defaults(handler="lakes:list_all")

    rm = cmds.add_parser("remove", help="forget a lake no materialization writes to (its files stay)")
    rm.add_argument("name")
    rm.set_defaults(handler="lakes:remove")
