"""DuckDB's settings: a database file, how long a write waits for another process's lock, and
how much memory a write may use before DuckDB spills to disk.

Options (`sage secrets add NAME --type duckdb --database PATH --option KEY=VALUE`):
- `lock_timeout`: seconds a write waits while another process holds the file (DuckDB allows
  one writing process per file), default 30. `connections test` waits at most its `--timeout`.
- `memory_limit`: DuckDB's buffer memory for the write connection, default 4GB (DuckDB's own
  default is 80% of RAM, which it fills: a 10M-row upsert peaked at 3.7 to 4.9 GB). Beyond it
  DuckDB spills to `temp_directory`; `512MB` bounds the 10M-row bench upsert to ~1.4 GB of RSS.
  Not everything spills: an upsert's updated values of long text and the primary key index stay
  in memory (2M rows of 100-character text updated ran out of a 512MB limit), so the default is
  generous: a write that succeeded with DuckDB's default should not fail with ours; the error
  of one that does says "Out of Memory" and the write leaves the table as it was. A DuckDB
  size: `512MB`, `2GB`, `1.5GiB`.
- `temp_directory`: where it spills, default DuckDB's own `<database file>.tmp` beside the file
  (an in-memory database: the system temp directory). DuckDB deletes its spill files when the
  connection closes and clears the directory's leftovers when the file is next opened.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from sage_pipelines.destinations.base import ConnectionSettings
from sage_pipelines.errors import ConfigError

MEMORY = ":memory:"
DEFAULT_LOCK_TIMEOUT = 30.0
DEFAULT_MEMORY_LIMIT = "4GB"
# What DuckDB's memory_limit parses: a number and a unit (decimal or binary).
_SIZE = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", re.IGNORECASE)


@dataclass(frozen=True)
class DuckDBSettings:
    """A DuckDB database file (`database`; none: an in-memory database)."""

    OPTIONS: ClassVar[dict[str, str]] = {
        "lock_timeout": "seconds a write waits for another process's lock on the file (default 30)",
        "memory_limit": "memory a write may use before spilling to temp_directory (default 4GB)",
        "temp_directory": "where a write spills (default: <database file>.tmp)",
    }

    path: str = MEMORY
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    temp_directory: str | None = None  # None: DuckDB's default beside the file

    def duckdb_config(self) -> dict[str, str]:
        """The settings the write connection SETs after opening (`client`)."""
        config = {"memory_limit": self.memory_limit}
        # An in-memory database has no file to spill beside: without a directory it could only
        # fail when the limit is reached.
        temp = self.temp_directory or (tempfile.gettempdir() if self.path == MEMORY else None)
        if temp:
            config["temp_directory"] = temp
        return config

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
        memory_limit = str(settings.options.get("memory_limit", DEFAULT_MEMORY_LIMIT)).strip()
        if not _SIZE.fullmatch(memory_limit):
            raise ConfigError(f"connection {settings.name!r}: option memory_limit={memory_limit!r} is not a "
                              "size such as 512MB or 2GB")
        temp = settings.options.get("temp_directory")
        temp_directory = str(Path(str(temp)).expanduser().resolve()) if temp else None
        return cls(path, lock_timeout, memory_limit, temp_directory)
