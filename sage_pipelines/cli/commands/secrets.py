"""`sage secrets add | list | show | rotate-key | remove`.

A password never travels on the command line: `--password-stdin` or `--password-env VAR`.
"""

from __future__ import annotations

import argparse

from sage_pipelines.services.secrets import SECRET_TYPES


class _RefusePasswordFlag(argparse.Action):
    """`--password VALUE` is refused without echoing VALUE (argparse would print it back)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        parser.error("there is no --password flag: a password on the command line leaks into shell "
                     "history and the process list; use --password-stdin or --password-env VAR")


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
    add.set_defaults(handler="secrets:add")

    cmds.add_parser("list", help="list secrets (never their passwords)").set_defaults(handler="secrets:list_all")

    show = cmds.add_parser("show", help="show one secret; the password prints as ********")
    show.add_argument("name")
    show.set_defaults(handler="secrets:show")

    rot = cmds.add_parser("rotate-key", help="re-encrypt every secret under a new key")
    rot.add_argument("--drop-old", action="store_true",
                     help="afterwards keep only the new key in secret.key")
    rot.set_defaults(handler="secrets:rotate_key")

    rm = cmds.add_parser("remove", help="remove a secret no connection, lake or server uses")
    rm.add_argument("name")
    rm.set_defaults(handler="secrets:remove")
