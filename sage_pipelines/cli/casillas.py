"""`sage casillas add NAME --yaml FILE | list`."""

from __future__ import annotations

import argparse
from pathlib import Path

from sage_pipelines.cli.secrets import print_rows
from sage_pipelines.errors import ConfigError
from sage_pipelines.services.casillas import list_casillas, load_casilla, register_casilla
from sage_pipelines.services.home import ready_home
from sage_pipelines.store.db import session_scope


def read_text_file(path: str) -> str:
    """A YAML file's text (UTF-8, a BOM tolerated), or one line saying why it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a YAML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _cmd_add(args: argparse.Namespace) -> int:
    text = read_text_file(args.yaml)
    with session_scope(ready_home()) as session:
        register_casilla(session, args.name, text, args.yaml)
        _, sage = load_casilla(session, args.name)
    print(f"casilla {args.name} registered: {', '.join(sage.catalogs)}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    with session_scope(ready_home()) as session:
        rows = [(c.nombre, c.descripcion, c.actualizado_en.isoformat(timespec="seconds"))
                for c in list_casillas(session)]
    print_rows(("NAME", "DESCRIPTION", "UPDATED"), rows)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("casillas", help="casillas and their SAGE YAML")
    cmds = p.add_subparsers(dest="casillas_command", required=True, metavar="ACTION")
    add = cmds.add_parser("add", help="register a casilla (re-adding a name updates its YAML)")
    add.add_argument("name")
    add.add_argument("--yaml", required=True, metavar="FILE", help="the casilla's SAGE YAML")
    add.set_defaults(func=_cmd_add)
    cmds.add_parser("list", help="list registered casillas").set_defaults(func=_cmd_list)
