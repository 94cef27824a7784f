"""`sage servers add|list|status|remove`: materialization servers (the broker password never shows)."""

from __future__ import annotations

import argparse

from sage_pipelines.cli.secrets import _read_password, print_rows
from sage_pipelines.servers.health import refresh_status
from sage_pipelines.servers.instance import sync_instance_limits
from sage_pipelines.services.home import ready_home
from sage_pipelines.services.servers import SERVER_TYPES, add_server, display_endpoint, list_servers, remove_server
from sage_pipelines.store.db import session_scope


def _cmd_add(args: argparse.Namespace) -> int:
    home = ready_home()
    password = _read_password(args)
    with session_scope(home) as session:
        row = add_server(session, args.name, args.type, args.endpoint, args.capacity, args.priority,
                         password=password, home=home, replace=args.replace)
        shown = display_endpoint(row)
    sync_instance_limits(home)
    print(f"server {args.name} saved ({args.type}, {shown}, capacity {args.capacity}, priority {args.priority}); "
          f"start its worker with `sage worker {args.name}`")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(s.nombre, s.tipo, display_endpoint(s), s.capacidad, s.prioridad, s.estado,
                 s.ultimo_heartbeat.isoformat(timespec="seconds") if s.ultimo_heartbeat else "")
                for s in list_servers(session)]
    print_rows(("NAME", "TYPE", "ENDPOINT", "CAPACITY", "PRIORITY", "STATE", "LAST_HEARTBEAT"), rows)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    """Ping every server through its broker now; store and print what was found."""
    with session_scope(ready_home()) as session:
        rows = []
        for server, probe in refresh_status(session, timeout=args.timeout):
            m = server.metricas
            rows.append((server.nombre, server.tipo, server.estado, ",".join(probe.nodes) or "-", probe.active,
                         probe.reserved, server.capacidad, m.get("steps_ok", 0), m.get("steps_failed", 0),
                         server.ultimo_heartbeat.isoformat(timespec="seconds") if server.ultimo_heartbeat else "-",
                         probe.error or ""))
    print_rows(("NAME", "TYPE", "STATE", "NODES", "ACTIVE", "RESERVED", "CAPACITY", "DONE", "FAILED",
                "LAST_HEARTBEAT", "ERROR"), rows)
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    home = ready_home()
    with session_scope(home) as session:
        remove_server(session, args.name)
    sync_instance_limits(home)
    print(f"server {args.name} removed")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("servers", help="materialization servers: local and remote Celery workers")
    cmds = p.add_subparsers(dest="servers_command", required=True, metavar="SUBCOMMAND")
    add = cmds.add_parser("add", help="register a remote server (a Celery worker on a broker)")
    add.add_argument("name")
    add.add_argument("--type", choices=SERVER_TYPES, default="remote")
    add.add_argument("--endpoint", help="broker URL, e.g. redis://host:6379/0 or amqp://user@host:5672//; "
                                        "a password in it is stored encrypted, never in the endpoint")
    add.add_argument("--capacity", type=int, default=1, help="worker concurrency (steps at once)")
    add.add_argument("--priority", type=int, default=0, help="higher is preferred by the balancer")
    add.add_argument("--password-stdin", action="store_true", help="read the broker password from stdin")
    add.add_argument("--password-env", metavar="VAR", help="read the broker password from environment variable VAR")
    add.add_argument("--replace", action="store_true", help="update an existing server")
    add.set_defaults(func=_cmd_add)
    ls = cmds.add_parser("list", help="registered servers")
    ls.set_defaults(func=_cmd_list)
    st = cmds.add_parser("status", help="ping every server through its broker; tasks, capacity, steps done")
    st.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for worker replies")
    st.set_defaults(func=_cmd_status)
    rm = cmds.add_parser("remove", help="remove a server (its history rows stay)")
    rm.add_argument("name")
    rm.set_defaults(func=_cmd_remove)
