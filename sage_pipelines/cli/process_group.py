"""Run a command as a process group of its own that stops as a whole (`sage dev`).

`dagster dev` starts the webserver, the daemon and a code server as processes of its own. When
`sage dev` is stopped by its PID (`kill -INT` / `kill -TERM`, a supervisor, a test), nothing
would tell them: they would keep running and keep the port. So the command runs in a new
process group, every SIGINT or SIGTERM `sage dev` receives is forwarded to that whole group
(Ctrl-C in a terminal reaches only `sage dev`'s own group), and `sage dev` returns only once no
process of the group is left (both signals reach the group as SIGINT, the Ctrl-C path
every dagster process shuts down cleanly on): what still runs `grace` seconds after the command itself ended
gets SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Sequence

FORWARDED = (signal.SIGINT, signal.SIGTERM)


def run_process_group(cmd: Sequence[str], env: dict[str, str], grace: float = 30.0) -> int:
    """Run `cmd` as the leader of a new process group; its exit code (128 + N if killed by signal N)."""
    proc = subprocess.Popen(list(cmd), env=env, process_group=0)

    def forward(_signum: int, _frame: object) -> None:
        # Both arrive as SIGINT: `dagster dev` and its children shut down cleanly on it (their
        # Ctrl-C path), while on SIGTERM a child lingered until the grace period ran out.
        _signal_group(proc.pid, signal.SIGINT)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        code = proc.wait()
    finally:
        try:
            _stop_group(proc.pid, grace)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return 128 - code if code < 0 else code


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def _stop_group(pgid: int, grace: float) -> None:
    """Wait for the group to empty; after `grace` seconds SIGTERM it, after as many again SIGKILL it."""
    for signum in (None, signal.SIGTERM, signal.SIGKILL):
        if signum is not None:
            _signal_group(pgid, signum)
        deadline = time.monotonic() + grace
        while group_alive(pgid):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        else:
            return


def group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs (zombies waiting for a parent to reap them do
    not count: they hold no port and run nothing)."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: ask the kernel, zombies included
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            return True
    return False
