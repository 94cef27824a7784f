"""`sage lakes add | list`."""

from __future__ import annotations

import argparse

from sage_pipelines.cli.secrets import parse_options, print_rows
from sage_pipelines.security import redact_url
from sage_pipelines.services.home import ready_home
from sage_pipelines.services.lakes import add_lake, default_catalog_uri, list_lakes
from sage_pipelines.store.db import session_scope


def _cmd_add(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        add_lake(session, args.name, args.warehouse, catalog_uri=args.catalog_uri, secret=args.secret,
                 options=parse_options(args.option), replace=args.replace)
    print(f"lake {args.name} saved ({args.warehouse})")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(lake.nombre, lake.warehouse,
                 redact_url(lake.catalog_uri or default_catalog_uri(lake.warehouse) or ""),
                 lake.secret.nombre if lake.secret else None,
                 ", ".join(f"{k}={v}" for k, v in sorted((lake.opciones or {}).items())))
                for lake in list_lakes(session)]
    print_rows(("NAME", "WAREHOUSE", "CATALOG", "SECRET", "OPTIONS"), rows)
    return 0


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
    add.set_defaults(func=_cmd_add)

    cmds.add_parser("list", help="list lakes").set_defaults(func=_cmd_list)
