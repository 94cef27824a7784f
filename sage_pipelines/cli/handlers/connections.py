"""`sage connections add | list | test | remove`."""

from __future__ import annotations

import argparse
import sys

from sage_pipelines.cli.terminal import print_rows
from sage_pipelines.services.connections import add_connection, list_connections, remove_connection, test_connection
from sage_pipelines.services.home import ready_home
from sage_pipelines.store.db import session_scope


def add(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        add_connection(session, args.name, args.secret, database=args.database, schema=args.schema,
                       replace=args.replace)
    print(f"connection {args.name} saved (secret {args.secret})")
    return 0


def list_all(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(c.nombre, c.secret.nombre, c.secret.tipo, c.base_datos or c.secret.basedatos, c.esquema,
                 c.estado_conexion, c.ultimo_test and c.ultimo_test.isoformat(timespec="seconds"),
                 None if c.latencia_ms is None else f"{c.latencia_ms:.1f}")
                for c in list_connections(session)]
    print_rows(("NAME", "SECRET", "TYPE", "DATABASE", "SCHEMA", "STATUS", "LAST TEST", "LATENCY MS"), rows)
    return 0


def test(args: argparse.Namespace) -> int:
    home = ready_home()
    with session_scope(home) as session:
        ok, latency, reason = test_connection(session, args.name, home=home, timeout=args.timeout)
    if ok:
        print(f"connection {args.name}: ok, {latency:.1f} ms")
        return 0
    print(f"sage: error: connection {args.name}: {reason}", file=sys.stderr)
    return 1


def remove(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        remove_connection(session, args.name)
    print(f"connection {args.name} removed")
    return 0
