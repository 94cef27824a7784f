"""`sage uploads add CASILLA PATH [--id ID] | list CASILLA`."""

from __future__ import annotations

import argparse

from sage_pipelines.cli.secrets import print_rows
from sage_pipelines.services.home import ready_home
from sage_pipelines.services.uploads import add_upload, list_uploads
from sage_pipelines.store.db import session_scope


def _cmd_add(args: argparse.Namespace) -> int:
    home = ready_home()
    with session_scope(home) as session:
        upload = add_upload(session, home, args.casilla, args.path, upload_id=args.id)
    print(upload.id)  # only the id: scripts capture it with $(sage uploads add ...)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(u.id, u.creado_en.isoformat(timespec="seconds"), u.origen, u.tamano_bytes, ", ".join(u.archivos))
                for u in list_uploads(session, args.casilla)]
    print_rows(("ID", "CREATED", "ORIGIN", "BYTES", "FILES"), rows)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("uploads", help="immutable uploads of a casilla's files")
    cmds = p.add_subparsers(dest="uploads_command", required=True, metavar="ACTION")
    add = cmds.add_parser("add", help="copy a file, a folder or a ZIP package into landing; prints the id")
    add.add_argument("casilla")
    add.add_argument("path")
    add.add_argument("--id", help="the upload id (default: generated, sortable by time)")
    add.set_defaults(func=_cmd_add)
    lst = cmds.add_parser("list", help="list a casilla's uploads, oldest first")
    lst.add_argument("casilla")
    lst.set_defaults(func=_cmd_list)
