"""`sage uploads add CASILLA PATH [--id ID] | list CASILLA`."""

from __future__ import annotations

import argparse

from sage_pipelines.cli.terminal import print_rows
from sage_pipelines.services.home import ready_home
from sage_pipelines.services.uploads import add_upload, list_uploads
from sage_pipelines.store.db import session_scope


def add(args: argparse.Namespace) -> int:
    home = ready_home()
    with session_scope(home) as session:
        upload = add_upload(session, home, args.casilla, args.path, upload_id=args.id)
    print(upload.id)  # only the id: scripts capture it with $(sage uploads add ...)
    return 0


def list_all(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(u.id, u.creado_en.isoformat(timespec="seconds"), u.origen, u.tamano_bytes, ", ".join(u.archivos))
                for u in list_uploads(session, args.casilla)]
    print_rows(("ID", "CREATED", "ORIGIN", "BYTES", "FILES"), rows)
    return 0
