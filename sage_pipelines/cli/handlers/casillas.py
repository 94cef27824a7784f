"""`sage casillas add NAME --yaml FILE | list`."""

from __future__ import annotations

import argparse

from sage_pipelines.cli.terminal import print_rows, read_text_file
from sage_pipelines.services.casillas import list_casillas, load_casilla, register_casilla
from sage_pipelines.services.home import ready_home
from sage_pipelines.store.db import session_scope


def add(args: argparse.Namespace) -> int:
    text = read_text_file(args.yaml)
    with session_scope(ready_home()) as session:
        register_casilla(session, args.name, text, args.yaml)
        _, sage = load_casilla(session, args.name)
    print(f"casilla {args.name} registered: {', '.join(sage.catalogs)}")
    return 0


def list_all(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(c.nombre, c.descripcion, c.actualizado_en.isoformat(timespec="seconds"))
                for c in list_casillas(session)]
    print_rows(("NAME", "DESCRIPTION", "UPDATED"), rows)
    return 0
