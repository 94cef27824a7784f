"""`sage servers add | list | remove`: materialization servers (the broker password never shows).

`sage servers status` talks to the brokers (Celery) and is `health.py`.
"""

from __future__ import annotations

import argparse

from sage_pipelines.cli.terminal import print_rows, read_password
from sage_pipelines.servers.instance import sync_instance_limits
from sage_pipelines.services.home import ready_home
from sage_pipelines.services.servers import add_server, display_endpoint, list_servers, remove_server
from sage_pipelines.store.db import session_scope


def add(args: argparse.Namespace) -> int:
    home = ready_home()
    password = read_password(args)
    with session_scope(home) as session:
        row = add_server(session, args.name, args.type, args.endpoint, args.capacity, args.priority,
                         password=password, home=home, replace=args.replace)
        shown = display_endpoint(row)
    sync_instance_limits(home)
    print(f"server {args.name} saved ({args.type}, {shown}, capacity {args.capacity}, priority {args.priority}); "
          f"start its worker with `sage worker {args.name}`")
    return 0


def list_all(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(s.nombre, s.tipo, display_endpoint(s), s.capacidad, s.prioridad, s.estado,
                 s.ultimo_heartbeat.isoformat(timespec="seconds") if s.ultimo_heartbeat else "")
                for s in list_servers(session)]
    print_rows(("NAME", "TYPE", "ENDPOINT", "CAPACITY", "PRIORITY", "STATE", "LAST_HEARTBEAT"), rows)
    return 0


def remove(args: argparse.Namespace) -> int:
    home = ready_home()
    with session_scope(home) as session:
        remove_server(session, args.name)
    sync_instance_limits(home)
    print(f"server {args.name} removed")
    return 0
