"""A pipe that `LOAD DATA LOCAL INFILE` reads while a feeder thread writes the upload into it.

PyMySQL sends a local file by opening its path and reading it to the end. The path given is
`/proc/self/fd/<n>` of an anonymous pipe (as `destinations.scratch` does for files): it has no
name on disk, so even a writer killed mid-load leaves nothing behind, and the upload is never
spooled — the thread reading + encoding the next batch runs while the server loads the
previous one. Without /proc (not Linux) it is a named FIFO in a private temporary directory.

The feeder never outlives the load: if the statement fails before reading the pipe, or stops
reading midway, closing the pipe's read end makes the feeder's next write fail with a broken
pipe and it stops. An exception of the upload's reader is kept and raised by `check()` (the
pipe then ended early, so the rows loaded so far must not be used).
"""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
import threading
import time
from typing import Iterable

PROC_FD = "/proc/self/fd"
PIPE_BYTES = 1 << 20  # kernel pipe buffer asked for (Linux; the default is 64 KB)
OPEN_POLL_SECONDS = 0.002


class PipeFeeder:
    """`with PipeFeeder(chunks) as feeder:` load from `feeder.path`; then `feeder.check()`."""

    def __init__(self, chunks: Iterable[object]):
        self._chunks = chunks
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._dir: tempfile.TemporaryDirectory | None = None
        self._read_fd: int | None = None
        self._write_fd: int | None = None
        if os.path.isdir(PROC_FD):
            self._read_fd, self._write_fd = os.pipe()
            _widen(self._write_fd)
            self.path = f"{PROC_FD}/{self._read_fd}"
        else:
            self._dir = tempfile.TemporaryDirectory(prefix="sage_load_")
            self.path = os.path.join(self._dir.name, "upload.tsv")
            os.mkfifo(self.path, 0o600)
        self._thread = threading.Thread(target=self._feed, name="sage-load-pipe", daemon=True)

    def __enter__(self) -> PipeFeeder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._read_fd is not None:
            os.close(self._read_fd)  # the last reader gone: a blocked write fails at once
        self._thread.join()
        if self._dir is not None:
            self._dir.cleanup()

    def check(self) -> None:
        """Wait for the feeder to finish; raise the upload reader's exception, if any."""
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _open_fifo(self) -> int | None:
        """The named FIFO's write end once the load opened it for reading; None if told to stop."""
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
                time.sleep(OPEN_POLL_SECONDS)
                continue
            os.set_blocking(fd, True)
            _widen(fd)
            return fd
        return None

    def _feed(self) -> None:
        try:
            fd = self._write_fd if self._write_fd is not None else self._open_fifo()
        except OSError as exc:  # the pipe could not be opened: the load then fails on it too
            self.error = exc
            return
        if fd is None:
            return
        try:
            for chunk in self._chunks:
                view = memoryview(chunk)  # type: ignore[arg-type]
                while view.nbytes:
                    view = view[os.write(fd, view):]
                if self._stop.is_set():
                    return
        except BrokenPipeError:
            return  # the load stopped reading (its statement failed): that error is reported
        except BaseException as exc:  # noqa: BLE001 - the upload's reader failed: see check()
            self.error = exc
        finally:
            os.close(fd)


def _widen(fd: int) -> None:
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:
        pass  # a smaller pipe only means more wake-ups
