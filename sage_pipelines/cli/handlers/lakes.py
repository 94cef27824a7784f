"""`sage lakes add | list | remove`."""

from __future__ import annotations

import argparse

from sage_pipelines.cli.terminal import parse_options, print_rows
from sage_pipelines.security import redact_url
from sage_pipelines.services.home import ready_home
from sage_pipelines.services.lakes import add_lake, default_catalog_uri, list_lakes, remove_lake
from sage_pipelines.store.db import session_scope


def add(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        add_lake(session, args.name, args.warehouse, catalog_uri=args.catalog_uri, secret=args.secret,
                 options=parse_options(args.option), replace=args.replace)
    print(f"lake {args.name} saved ({args.warehouse})")
    return 0


def list_all(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(lake.nombre, lake.warehouse,
                 redact_url(lake.catalog_uri or default_catalog_uri(lake.warehouse) or ""),
                 lake.secret.nombre if lake.secret else None,
                 ", ".join(f"{k}={v}" for k, v in sorted((lake.opciones or {}).items())))
                for lake in list_lakes(session)]
    print_rows(("NAME", "WAREHOUSE", "CATALOG", "SECRET", "OPTIONS"), rows)
    return 0


def remove(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        remove_lake(session, args.name)
    print(f"lake {args.name} removed (its files stay where they are)")
    return 0
