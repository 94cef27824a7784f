"""Which process runs a Dagster run, and failing the runs whose process is gone.

`sage materialize` executes its run in its own process (`execute_job`). When that process is
killed (`kill -9`, the OOM killer, a machine that went down) nothing ever reports the run's end,
and Dagster's run monitoring cannot either: the default run launcher cannot check a run worker's
health, so monitoring fails runs stuck in STARTING only, and the run would stay STARTED forever.
So each such run carries the identity of the process running it (`sage/run_process`: host,
boot id, pid and the pid's start time, so that a pid the system reused later is not taken for
it), and `fail_dead_runs` reports failed every unfinished run of this host whose process is
gone. The servers sensor calls it every tick, and every `sage materialize` before its own run,
so a dead run is failed at the latest when the next run starts. Without /proc (not Linux) runs
carry no identity and are left alone.
"""

from __future__ import annotations

import socket
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

RUN_PROCESS_TAG = "sage/run_process"
UNFINISHED = [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # fields after the command name start at field 3


def process_identity(pid: int) -> str | None:
    """`host|boot id|pid|start time` of a live process of this machine, or None without /proc."""
    started = _start_time(pid)
    if started is None or not _BOOT_ID.exists():
        return None
    return f"{socket.gethostname()}|{_BOOT_ID.read_text().strip()}|{pid}|{started}"


def process_alive(identity: str) -> bool | None:
    """Whether the process `identity` names still runs; None when this host cannot tell (another
    host's process, or an identity it cannot read)."""
    try:
        host, boot, pid, started = identity.split("|")
        number = int(pid)
    except ValueError:
        return None
    if host != socket.gethostname() or not _BOOT_ID.exists():
        return None
    if boot != _BOOT_ID.read_text().strip():
        return False  # the machine restarted since: every process of then is gone
    return _start_time(number) == started


def fail_dead_runs(instance: DagsterInstance) -> list[str]:
    """Report failed every unfinished run of this host whose process is gone; their run ids."""
    failed = []
    for run in instance.get_runs(RunsFilter(statuses=UNFINISHED)):
        identity = run.tags.get(RUN_PROCESS_TAG)
        if identity is None or process_alive(identity) is not False:
            continue
        host, _, pid, _ = identity.split("|")
        instance.report_run_failed(run, message=f"the process running this run (pid {pid} on {host}) is gone "
                                                "(killed, or its machine restarted); re-run the upload")
        failed.append(run.run_id)
    return failed
