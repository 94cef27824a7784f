"""Opening the metadata store, telling whether `sage init` created it, and migrating it to the
newest schema with Alembic."""

from __future__ import annotations

import contextlib
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from sage_pipelines.settings import SageHome

MIGRATIONS = Path(__file__).with_name("migrations")


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()
    return engine


def migrate(url: str, revision: str = "head") -> None:
    """Bring the store at `url` up to `revision`, by default the newest (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with engine_for(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def schema_revisions(url: str) -> tuple[str | None, str]:
    """(the store's Alembic revision, the newest this code knows), read without writing anything:
    loading the Dagster definitions uses it to refuse a store `sage init` has not migrated yet."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    with engine_for(url).connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head or ""


def store_is_current(home: SageHome) -> bool:
    """Whether `home`'s store exists and is at the newest revision (no `sage init` pending)."""
    if not store_exists(home):
        return False
    current, head = schema_revisions(home.store_url)
    return current == head


def _sqlite_file(url: str) -> Path | None:
    """The database file of a `sqlite:///` store URL, None for any other store."""
    return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None


def store_exists(home: SageHome) -> bool:
    """Whether `sage init` has created the store of `home` (a PostgreSQL store always counts:
    its database is the operator's to create)."""
    path = _sqlite_file(home.store_url)
    return path is None or path.exists()


@contextlib.contextmanager
def session_scope(home: SageHome | None = None) -> Iterator[Session]:
    """A session on the store of `home` (default: $SAGE_HOME), committed on success."""
    home = home or SageHome.from_env()
    url = home.store_url
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    factory = sessionmaker(bind=engine_for(url), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
