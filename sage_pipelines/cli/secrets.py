"""`sage secrets add | list | show | rotate-key | remove`.

A password never travels on the command line (it would sit in shell history and `ps`): it comes
from stdin (`--password-stdin`) or from an environment variable named with `--password-env`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Iterable, Sequence

from sage_pipelines.errors import ConfigError
from sage_pipelines.services.home import ready_home
from sage_pipelines.services.secrets import (SECRET_TYPES, add_secret, drop_old_keys, list_secrets, remove_secret,
                                             rotate_key, show_secret)
from sage_pipelines.store.db import session_scope


def parse_options(pairs: Iterable[str] | None) -> dict[str, str]:
    """`["k=v", ...]` from repeated `--option` flags."""
    options: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {pair!r}: expected KEY=VALUE")
        options[key.strip()] = value
    return options


def print_rows(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table on stdout (empty cells for None)."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for row in [list(headers)] + cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin and args.password_env:
        raise ConfigError("use either --password-stdin or --password-env, not both")
    if args.password_stdin:
        text = sys.stdin.read()
        return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    if args.password_env:
        if args.password_env not in os.environ:
            raise ConfigError(f"--password-env: environment variable {args.password_env!r} is not set")
        return os.environ[args.password_env]
    return None


class _RefusePasswordFlag(argparse.Action):
    """`--password VALUE` is refused without echoing VALUE (argparse would print it back)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        parser.error("there is no --password flag: a password on the command line leaks into shell "
                     "history and the process list; use --password-stdin or --password-env VAR")


def _cmd_add(args: argparse.Namespace) -> int:
    home = ready_home()
    password = _read_password(args)
    with session_scope(home) as session:
        add_secret(session, args.name, args.type, host=args.host, port=args.port, user=args.user,
                   database=args.database, password=password, options=parse_options(args.option),
                   home=home, replace=args.replace)
    print(f"secret {args.name} saved ({args.type})")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        secrets = list_secrets(session)
        print_rows(("NAME", "TYPE", "HOST", "PORT", "USER", "DATABASE"),
                   [(s.nombre, s.tipo, s.servidor, s.puerto, s.usuario, s.basedatos) for s in secrets])
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        info = show_secret(session, args.name)
    for key, value in info.items():
        if key == "options":
            value = ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
        print(f"{key}: {'' if value is None else value}")
    return 0


def _cmd_rotate(args: argparse.Namespace) -> int:
    home = ready_home()
    with session_scope(home) as session:
        count = rotate_key(home, session)
    print(f"re-encrypted {count} secret(s) under the new key")
    if args.drop_old:
        with session_scope(home) as session:
            removed = drop_old_keys(home, session)
        print(f"removed {removed} old key(s) from {home.secret_key_path}")
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        remove_secret(session, args.name)
    print(f"secret {args.name} removed")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("secrets", help="encrypted credentials for databases, lakes and brokers")
    cmds = p.add_subparsers(dest="secrets_command", required=True, metavar="ACTION")

    add = cmds.add_parser("add", help="store a secret (password from stdin or an env variable)",
                          allow_abbrev=False)
    add.add_argument("name")
    add.add_argument("--type", required=True, choices=SECRET_TYPES)
    add.add_argument("--host")
    add.add_argument("--port", type=int)
    add.add_argument("--user", help="user name (S3: the access key id, stored encrypted)")
    add.add_argument("--database", help="database name (DuckDB: the database file)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password (S3: the secret access key) from stdin")
    add.add_argument("--password-env", metavar="VAR", help="read the password from environment variable VAR")
    add.add_argument("--password", nargs="?", action=_RefusePasswordFlag, help=argparse.SUPPRESS)
    add.add_argument("--option", action="append", metavar="KEY=VALUE",
                     help="driver option, e.g. sslmode=verify-full, sslrootcert=/ca.pem, ssl_ca=/ca.pem")
    add.add_argument("--replace", action="store_true", help="update an existing secret in place")
    add.set_defaults(func=_cmd_add)

    cmds.add_parser("list", help="list secrets (never their passwords)").set_defaults(func=_cmd_list)

    show = cmds.add_parser("show", help="show one secret; the password prints as ********")
    show.add_argument("name")
    show.set_defaults(func=_cmd_show)

    rot = cmds.add_parser("rotate-key", help="re-encrypt every secret under a new key")
    rot.add_argument("--drop-old", action="store_true",
                     help="afterwards keep only the new key in secret.key")
    rot.set_defaults(func=_cmd_rotate)

    rm = cmds.add_parser("remove", help="remove a secret no connection, lake or server uses")
    rm.add_argument("name")
    rm.set_defaults(func=_cmd_remove)
