"""`sage materializations apply FILE.yaml | export NAME | list`."""

from __future__ import annotations

import argparse
import sys

from sage_pipelines.cli.terminal import print_rows, read_text_file
from sage_pipelines.services.home import ready_home
from sage_pipelines.services.materializations import (apply_materialization, export_materialization,
                                                      list_materializations)
from sage_pipelines.store.db import session_scope


def apply(args: argparse.Namespace) -> int:
    text = read_text_file(args.file)
    with session_scope(ready_home()) as session:
        row = apply_materialization(session, text, args.file)
        summary = f"materialization {row.nombre} applied: {len(row.tables)} tables, " \
                  f"destinations {', '.join(d.nombre for d in row.destinations)}"
    print(summary)
    return 0


def export(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        text = export_materialization(session, args.name)
    sys.stdout.write(text)
    return 0


def list_all(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(m.nombre, m.casilla.nombre, ", ".join(t.catalogo for t in m.tables),
                 ", ".join(d.nombre for d in m.destinations), m.servidor, m.schedule,
                 "yes" if m.activo else "no")
                for m in list_materializations(session)]
    print_rows(("NAME", "CASILLA", "TABLES", "DESTINATIONS", "SERVER", "SCHEDULE", "ACTIVE"), rows)
    return 0
