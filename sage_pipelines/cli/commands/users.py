"""`sage users add NAME --role admin|operator|viewer | list` and `sage tokens create | list | revoke`.

Who may use the API and the pages, and their tokens. The CLI itself needs no token: whoever runs
it on this SAGE_HOME (and so holds its key file) is its local admin.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="who may use the API and the console, with which role")
    cmds = p.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = cmds.add_parser("add", help="add a user with a role")
    add.add_argument("name")
    add.add_argument("--role", required=True, metavar="ROLE",
                     help="admin: everything; operator: casillas, materializations, uploads, runs; viewer: read only")
    add.add_argument("--replace", action="store_true", help="change an existing user's role")
    add.set_defaults(handler="users:add")
    cmds.add_parser("list", help="list users").set_defaults(handler="users:list_all")

    p = sub.add_parser("tokens", help="API tokens (shown once; only a salted hash is stored)")
    cmds = p.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    create = cmds.add_parser("create", help="create a token for USER and print it once")
    create.add_argument("user")
    create.add_argument("--expires", default="30d", metavar="DURATION",
                        help="lifetime: 30m, 12h, 30d, 2w, or never (default 30d)")
    create.add_argument("--description", help="what the token is for")
    create.set_defaults(handler="users:create_token")
    ls = cmds.add_parser("list", help="list tokens (never their secrets)")
    ls.add_argument("--user", help="only this user's tokens")
    ls.set_defaults(handler="users:list_tokens")
    revoke = cmds.add_parser("revoke", help="revoke a token by its ID (from `sage tokens list`)")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(handler="users:revoke_token")
