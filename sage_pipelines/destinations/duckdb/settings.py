"""DuckDB's settings: a database file, and how long a write waits for another process's lock.

Options (`sage secrets add NAME --type duckdb --database PATH --option KEY=VALUE`):
- `lock_timeout`: seconds a write waits while another process holds the file (DuckDB allows
  one writing process per file), default 30. `connections test` waits at most its `--timeout`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from sage_pipelines.destinations.base import ConnectionSettings
from sage_pipelines.errors import ConfigError

MEMORY = ":memory:"
DEFAULT_LOCK_TIMEOUT = 30.0


@dataclass(frozen=True)
class DuckDBSettings:
    """A DuckDB database file (`database`; none: an in-memory database)."""

    OPTIONS: ClassVar[dict[str, str]] = {
        "lock_timeout": "seconds a write waits for another process's lock on the file (default 30)",
    }

    path: str = MEMORY
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT

    @classmethod
    def of(cls, settings: ConnectionSettings) -> "DuckDBSettings":
        path = str(Path(settings.database).expanduser().resolve()) if settings.database else MEMORY
        raw = settings.options.get("lock_timeout")
        try:
            lock_timeout = DEFAULT_LOCK_TIMEOUT if raw is None else float(raw)
        except ValueError:
            lock_timeout = -1.0
        if lock_timeout < 0:
            raise ConfigError(f"connection {settings.name!r}: option lock_timeout={raw!r} is not a "
                              "number of seconds")
        return cls(path, lock_timeout)
