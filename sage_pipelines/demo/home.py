"""The demo's SAGE_HOME: every `sage demo` (and so every `make demo`) starts from a clean one.

A re-run must not add three more uploads to the last run's tables, or its story stops matching
the README. So the demo empties its home first, but only a home that holds nothing except what
an earlier demo left there (the built-in destinations, the demo casilla and its materialization,
the files `sage init` makes): a home with anything else in it is somebody's installation, and
the demo refuses it rather than deleting it.
"""

from __future__ import annotations

import os
import shutil

from sqlalchemy import select

from sage_pipelines.errors import ConfigError
from sage_pipelines.materialization.model import LOCAL_SERVER
from sage_pipelines.services.home import LAKE, WAREHOUSE
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import engine_for, session_scope
from sage_pipelines.store.models import (Casilla, DatabaseConnection, DbSecret, Lake, Materialization,
                                         MaterializationServer, User)

CASILLA = "ventas_semanales"  # the demo casilla, and the name of its materialization
DEMO_USER = "demo"  # the admin the demo's console token belongs to
STORE_FILE = "sage.db"

# What `sage init`, the demo and its Dagster runs create directly under SAGE_HOME.
_HOME_ENTRIES = {STORE_FILE, f"{STORE_FILE}-wal", f"{STORE_FILE}-shm", f"{STORE_FILE}-journal", "secret.key",
                 "landing", "lake", "executions", "dagster", "warehouse.duckdb", "warehouse.duckdb.wal"}
# Rows of the store a demo run creates, by table.
_DEMO_ROWS = ((DbSecret, {WAREHOUSE}), (DatabaseConnection, {WAREHOUSE}), (Lake, {LAKE}), (Casilla, {CASILLA}),
              (Materialization, {CASILLA}), (MaterializationServer, {LOCAL_SERVER}), (User, {DEMO_USER}))


def fresh_demo_home(home: SageHome) -> SageHome:
    """`home`, emptied when it holds only an earlier demo's things; refused when it holds more."""
    if os.environ.get("SAGE_STORE_URL"):
        raise ConfigError("the demo runs on the embedded defaults and starts from a clean home: "
                          "unset SAGE_STORE_URL (its store is not the demo's to empty)")
    if home.root.exists():
        reason = _not_the_demos(home)
        if reason is not None:
            raise ConfigError(f"SAGE_HOME {home.root} holds {reason}, so it is not the demo's to empty; "
                              "run the demo with SAGE_HOME set to a new folder")
        engine_for(home.store_url).dispose()  # no pooled connection may outlive the file it opened
        shutil.rmtree(home.root)
    return home


def _not_the_demos(home: SageHome) -> str | None:
    """What in `home` an earlier demo did not make, or None when nothing."""
    if not home.root.is_dir():
        return "a file of that name"
    for entry in sorted(p.name for p in home.root.iterdir()):
        if entry not in _HOME_ENTRIES:
            return f"{entry!r}"
    for folder, allowed in ((home.landing, {CASILLA}), (home.root / "executions", set())):
        if folder.is_dir():
            other = sorted({p.name for p in folder.iterdir()} - allowed)
            if other:
                return f"{folder.name}/{other[0]}"
    if not (home.root / STORE_FILE).exists():
        return None
    try:
        with session_scope(home) as session:
            for model, names in _DEMO_ROWS:
                other = sorted(set(session.scalars(select(model.nombre))) - names)
                if other:
                    return f"{model.__tablename__} {other[0]!r}"
    except Exception as exc:  # not a store this version can read: not ours to delete
        return f"a store the demo cannot read ({type(exc).__name__})"
    return None
