"""`sage connections add | list | test`."""

from __future__ import annotations

import argparse
import sys

from sage_pipelines.cli.secrets import print_rows
from sage_pipelines.services.connections import add_connection, list_connections, test_connection
from sage_pipelines.services.home import ready_home
from sage_pipelines.store.db import session_scope


def _cmd_add(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        add_connection(session, args.name, args.secret, database=args.database, schema=args.schema,
                       replace=args.replace)
    print(f"connection {args.name} saved (secret {args.secret})")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(c.nombre, c.secret.nombre, c.secret.tipo, c.base_datos or c.secret.basedatos, c.esquema,
                 c.estado_conexion, c.ultimo_test and c.ultimo_test.isoformat(timespec="seconds"),
                 None if c.latencia_ms is None else f"{c.latencia_ms:.1f}")
                for c in list_connections(session)]
    print_rows(("NAME", "SECRET", "TYPE", "DATABASE", "SCHEMA", "STATUS", "LAST TEST", "LATENCY MS"), rows)
    return 0


def _cmd_test(args: argparse.Namespace) -> int:
    home = ready_home()
    with session_scope(home) as session:
        ok, latency, reason = test_connection(session, args.name, home=home, timeout=args.timeout)
    if ok:
        print(f"connection {args.name}: ok, {latency:.1f} ms")
        return 0
    print(f"sage: error: connection {args.name}: {reason}", file=sys.stderr)
    return 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("connections", help="database connections over stored secrets")
    cmds = p.add_subparsers(dest="connections_command", required=True, metavar="ACTION")

    add = cmds.add_parser("add", help="register a connection")
    add.add_argument("name")
    add.add_argument("--secret", required=True, help="the secret holding host, user and password")
    add.add_argument("--database", help="database (overrides the secret's)")
    add.add_argument("--schema", help="default schema for tables without one")
    add.add_argument("--replace", action="store_true", help="update an existing connection in place")
    add.set_defaults(func=_cmd_add)

    cmds.add_parser("list", help="list connections and their last test").set_defaults(func=_cmd_list)

    test = cmds.add_parser("test", help="connect for real, run SELECT 1, record the outcome")
    test.add_argument("name")
    test.add_argument("--timeout", type=int, default=10, help="seconds to wait for the server")
    test.set_defaults(func=_cmd_test)
