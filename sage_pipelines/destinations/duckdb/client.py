"""Opening a DuckDB file: the one way writes and `connections test` do it.

The file opens read-write, as a write needs it: a file another process holds (DuckDB allows one
writing process per file, and a read-only reader blocks writers too), a file that cannot be
written, or a missing directory fails here, for the test as for the write. A missing file is
created, as the first write would. Connections to one file from this process take turns on a
lock held from `open_connection` to `close_connection`: DuckDB's catalog is not safe to use
from two connections at once while Arrow streams are being scanned.

A write spills beyond its `memory_limit` into the temp directory (settings). DuckDB deletes its
own spill files on close, but a killed writer's stay until a later process spills there too
(measured with duckdb 2.0: hundreds of MB beside the file); opening clears them first.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import duckdb

from sage_pipelines.destinations.base import ConnectionSettings
from sage_pipelines.destinations.duckdb.settings import MEMORY, DuckDBSettings
from sage_pipelines.destinations.sql.connect import Client, ConnectHints

RETRY_SECONDS = 0.2
# DuckDB's spill files: duckdb_temp_<pid>_<n>_owner / ..._storage_<size>-<n>.tmp
_SPILL_FILE = re.compile(r"duckdb_temp_(\d+)_")

_file_locks: dict[str, threading.Lock] = {}
_file_locks_guard = threading.Lock()
_held: dict[int, threading.Lock] = {}


def _file_lock(path: str) -> threading.Lock:
    with _file_locks_guard:
        return _file_locks.setdefault(path, threading.Lock())


def open_connection(settings: ConnectionSettings, timeout: float | None = None) -> Any:
    """The file, open read-write. `timeout`: seconds to wait for another process's lock (None:
    the connection's `lock_timeout`, what a write waits)."""
    s = DuckDBSettings.of(settings)
    wait = s.lock_timeout if timeout is None else min(timeout, s.lock_timeout)
    if s.path != MEMORY and not Path(s.path).parent.is_dir():
        raise FileNotFoundError(f"directory of {s.path} does not exist")
    lock = _file_lock(s.path)
    lock.acquire()
    try:
        conn = _open(s, wait)
    except BaseException:
        lock.release()
        raise
    _held[id(conn)] = lock
    return conn


def _open(s: DuckDBSettings, wait: float) -> Any:
    deadline = time.monotonic() + wait
    while True:
        try:
            conn = duckdb.connect(s.path)
            conn.execute("SET enable_progress_bar = false")  # a long write would draw one in the logs
            # memory_limit bounds the write (DuckDB spills beyond it); see settings. Set, not
            # passed to connect: another connection of this process to the file (a reader, an IO
            # manager) shares the database instance, and connect refuses a different config.
            for name, value in s.duckdb_config().items():
                conn.execute(f"SET {name} = ?", [value])  # name: ours, from the settings
            _clear_dead_spills(conn)
            return conn
        except duckdb.IOException as exc:  # another process holds the file
            if "lock" not in str(exc).lower() or time.monotonic() + RETRY_SECONDS > deadline:
                raise
            time.sleep(RETRY_SECONDS)


def _clear_dead_spills(conn: Any) -> None:
    """Delete the spill files of writers that died (their process is gone) from the temp
    directory; a live process's (another file's writer sharing a `temp_directory`) stay."""
    folder = Path(conn.execute("SELECT current_setting('temp_directory')").fetchone()[0] or "")
    if not folder.name or not folder.is_dir():
        return
    for path in folder.iterdir():
        match = _SPILL_FILE.match(path.name)
        if match and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def close_connection(conn: Any) -> None:
    try:
        conn.close()
    finally:
        lock = _held.pop(id(conn), None)
        if lock is not None:
            lock.release()


CLIENT = Client(open=open_connection, hints=ConnectHints(file_database=True), close=close_connection)
