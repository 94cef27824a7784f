"""`sage init`: create SAGE_HOME, migrate the store, create the key, register built-ins."""

from __future__ import annotations

import argparse

from sage_pipelines.settings import SageHome
from sage_pipelines.store.builtins import register_builtins
from sage_pipelines.store.db import migrate
from sage_pipelines.store.secrets import ensure_key


def init_home(home: SageHome | None = None) -> SageHome:
    """Create `$SAGE_HOME`, migrate its store, create the secret key (0600) and register the
    built-in connection `warehouse` and lake `lake`. Idempotent."""
    home = home or SageHome.from_env()
    for d in (home.root, home.landing, home.lake_path, home.dagster_home):
        d.mkdir(parents=True, exist_ok=True)
    migrate(home.store_url)
    ensure_key(home)
    register_builtins(home)
    return home


def _cmd_init(args: argparse.Namespace) -> int:
    home = init_home()
    print(f"SAGE_HOME ready at {home.root}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="create SAGE_HOME, migrate the store, create the key")
    p.set_defaults(func=_cmd_init)
