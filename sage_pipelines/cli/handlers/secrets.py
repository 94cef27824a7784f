"""`sage secrets add | list | show | rotate-key | remove`."""

from __future__ import annotations

import argparse

from sage_pipelines.cli.terminal import parse_options, print_rows, read_password
from sage_pipelines.services import secrets as service
from sage_pipelines.services.home import ready_home
from sage_pipelines.store.db import session_scope


def add(args: argparse.Namespace) -> int:
    home = ready_home()
    password = read_password(args)
    with session_scope(home) as session:
        service.add_secret(session, args.name, args.type, host=args.host, port=args.port, user=args.user,
                           database=args.database, password=password, options=parse_options(args.option),
                           home=home, replace=args.replace)
    print(f"secret {args.name} saved ({args.type})")
    return 0


def list_all(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        secrets = service.list_secrets(session)
        print_rows(("NAME", "TYPE", "HOST", "PORT", "USER", "DATABASE"),
                   [(s.nombre, s.tipo, s.servidor, s.puerto, s.usuario, s.basedatos) for s in secrets])
    return 0


def show(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        info = service.show_secret(session, args.name)
    for key, value in info.items():
        if key == "options":
            value = ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
        print(f"{key}: {'' if value is None else value}")
    return 0


def rotate_key(args: argparse.Namespace) -> int:
    home = ready_home()
    with session_scope(home) as session:
        count = service.rotate_key(home, session)
    print(f"re-encrypted {count} secret(s) under the new key")
    if args.drop_old:
        with session_scope(home) as session:
            removed = service.drop_old_keys(home, session)
        print(f"removed {removed} old key(s) from {home.secret_key_path}")
    return 0


def remove(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        service.remove_secret(session, args.name)
    print(f"secret {args.name} removed")
    return 0
