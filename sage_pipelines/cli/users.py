"""`sage users add NAME --role admin|operator|viewer | list` and `sage tokens create | list | revoke`.

Who may use the API and the pages, and their tokens. The CLI itself needs no token: whoever runs
it on this SAGE_HOME (and so holds its key file) is its local admin.
"""

from __future__ import annotations

import argparse

from sage_pipelines.cli.secrets import print_rows
from sage_pipelines.services.auth import (ROLES, add_user, create_token, list_tokens, list_users, revoke_token,
                                          token_state)
from sage_pipelines.services.durations import parse_duration
from sage_pipelines.services.home import ready_home
from sage_pipelines.store.db import session_scope


def _when(moment) -> str:  # noqa: ANN001
    return moment.isoformat(timespec="seconds") if moment else ""


def _cmd_users_add(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        add_user(session, args.name, args.role, replace=args.replace)
    print(f"user {args.name} saved ({args.role}); give them a token with `sage tokens create {args.name}`")
    return 0


def _cmd_users_list(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(u.nombre, u.rol, "yes" if u.activo else "no", _when(u.creado_en)) for u in list_users(session)]
    print_rows(("NAME", "ROLE", "ACTIVE", "CREATED"), rows)
    return 0


def _cmd_tokens_create(args: argparse.Namespace) -> int:
    expires = parse_duration(args.expires, "--expires") if args.expires != "never" else None
    with session_scope(ready_home()) as session:
        token = create_token(session, args.user, expires, args.description or "")
    print(token)  # only the token: it is shown this once (scripts capture it with $(...))
    return 0


def _cmd_tokens_list(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(t.id, t.user.nombre, t.user.rol, token_state(t), _when(t.creado_en), _when(t.expira_en) or "never",
                 _when(t.ultimo_uso), t.descripcion) for t in list_tokens(session, args.user)]
    print_rows(("ID", "USER", "ROLE", "STATE", "CREATED", "EXPIRES", "LAST USED", "DESCRIPTION"), rows)
    return 0


def _cmd_tokens_revoke(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        token = revoke_token(session, args.id)
        user = token.user.nombre
    print(f"token {args.id} of {user} revoked")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="who may use the API and the console, with which role")
    cmds = p.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = cmds.add_parser("add", help="add a user with a role")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES,
                     help="admin: everything; operator: casillas, materializations, uploads, runs; viewer: read only")
    add.add_argument("--replace", action="store_true", help="change an existing user's role")
    add.set_defaults(func=_cmd_users_add)
    cmds.add_parser("list", help="list users").set_defaults(func=_cmd_users_list)

    p = sub.add_parser("tokens", help="API tokens (shown once; only a salted hash is stored)")
    cmds = p.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    create = cmds.add_parser("create", help="create a token for USER and print it once")
    create.add_argument("user")
    create.add_argument("--expires", default="30d", metavar="DURATION",
                        help="lifetime: 30m, 12h, 30d, 2w, or never (default 30d)")
    create.add_argument("--description", help="what the token is for")
    create.set_defaults(func=_cmd_tokens_create)
    ls = cmds.add_parser("list", help="list tokens (never their secrets)")
    ls.add_argument("--user", help="only this user's tokens")
    ls.set_defaults(func=_cmd_tokens_list)
    revoke = cmds.add_parser("revoke", help="revoke a token by its ID (from `sage tokens list`)")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=_cmd_tokens_revoke)
