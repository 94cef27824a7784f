"""`sage servers add | list | status | remove`: materialization servers."""

from __future__ import annotations

import argparse

from sage_pipelines.services.servers import SERVER_TYPES


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
    add.set_defaults(handler="servers:add")
    cmds.add_parser("list", help="registered servers").set_defaults(handler="servers:list_all")
    st = cmds.add_parser("status", help="ping every server through its broker; tasks, capacity, steps done")
    st.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for worker replies")
    st.set_defaults(handler="health:status")
    rm = cmds.add_parser("remove", help="remove a server (its history rows stay)")
    rm.add_argument("name")
    rm.set_defaults(handler="servers:remove")
