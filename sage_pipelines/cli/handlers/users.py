"""`sage users` and `sage tokens`: users, roles and API tokens (`services.auth`)."""

from __future__ import annotations

import argparse
import datetime as dt

from sage_pipelines.cli.terminal import print_rows
from sage_pipelines.services import auth
from sage_pipelines.services.durations import parse_duration
from sage_pipelines.services.home import ready_home
from sage_pipelines.store.db import session_scope


def _when(moment: dt.datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def add(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        auth.add_user(session, args.name, args.role, replace=args.replace)
    print(f"user {args.name} saved ({args.role}); give them a token with `sage tokens create {args.name}`")
    return 0


def list_all(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(u.nombre, u.rol, "yes" if u.activo else "no", _when(u.creado_en)) for u in auth.list_users(session)]
    print_rows(("NAME", "ROLE", "ACTIVE", "CREATED"), rows)
    return 0


def create_token(args: argparse.Namespace) -> int:
    expires = None if args.expires == "never" else parse_duration(args.expires, "--expires")
    with session_scope(ready_home()) as session:
        token = auth.create_token(session, args.user, expires, args.description or "")
    print(token)  # only the token: it is shown this once (scripts capture it with $(...))
    return 0


def list_tokens(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(t.id, t.user.nombre, t.user.rol, auth.token_state(t), _when(t.creado_en),
                 _when(t.expira_en) or "never", _when(t.ultimo_uso), t.descripcion)
                for t in auth.list_tokens(session, args.user)]
    print_rows(("ID", "USER", "ROLE", "STATE", "CREATED", "EXPIRES", "LAST USED", "DESCRIPTION"), rows)
    return 0


def revoke_token(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        user = auth.revoke_token(session, args.id).user.nombre
    print(f"token {args.id} of {user} revoked")
    return 0
