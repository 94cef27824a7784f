"""Scratch files that disappear with the process that made them, even one killed with SIGKILL.

A write's temporary file (MySQL's LOAD DATA file, a lake upload's spool) is created already
unlinked (`tempfile.TemporaryFile`: O_TMPFILE, or unlinked at once), so no name of it exists
for a crash to leave behind: the kernel frees its blocks when the last descriptor or memory map
of it goes, whichever way the process ends. Libraries that open a path themselves (pyarrow's
`memory_map`, PyMySQL's LOAD DATA LOCAL) get `/proc/self/fd/<n>`, which opens that same file.
Without /proc (not Linux) it is a named file removed when the block ends, as a normal exit does;
only there can a killed writer leave one in TMPDIR.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator

PROC_FD = "/proc/self/fd"


@contextlib.contextmanager
def scratch_path(prefix: str, suffix: str = "") -> Iterator[str]:
    """A path to an empty file of this block's own, which leaves no name behind at any exit."""
    if os.path.isdir(PROC_FD):
        with tempfile.TemporaryFile(prefix=prefix, suffix=suffix) as handle:
            yield f"{PROC_FD}/{handle.fileno()}"
        return
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix)
    os.close(fd)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
