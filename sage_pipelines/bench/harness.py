"""Run one benchmark step in a fresh Python process; report its time and its peak memory.

A step run in the benchmark's own process would inherit the memory of every step before it
(ru_maxrss never goes down), so each measured step runs in a child, started one of two ways:

- `run_child(module, step, **kwargs)`: `python -m <module> --bench-child <step> <json kwargs>`,
  where the module ends with `if __name__ == "__main__": raise SystemExit(child_main(STEPS))`;
  for steps whose arguments are plain JSON (paths, names, counts);
- `in_child(setup, *args)`: a spawned multiprocessing process runs `setup(*args)` untimed
  (imports, an opened destination) and times the step it returns; for steps whose arguments are
  objects (settings, table specs), pickled to the child.

Either way the child times its step itself (process start and imports excluded) and reports its
peak RSS: the kernel's high-water mark of its own memory (`VmHWM` in /proc/self/status), its
interpreter and imports included, the benchmark's data not. Not `ru_maxrss`: Python starts
children with vfork (or fork + exec), and the child's `ru_maxrss` then includes the parent's
resident set at the start (a parent that grew to 2 GB would report 2 GB for every child); it is
only the fallback where /proc is missing. Both return a `ChildRun`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")

CHILD_FLAG = "--bench-child"
RESULT_MARK = "SAGE-BENCH-RESULT "


class ChildFailed(RuntimeError):
    """A step's process failed: `run_child`'s carries the end of its stderr; `in_child`'s child
    printed its traceback to the benchmark's stderr itself."""


@dataclass
class ChildRun(Generic[T]):
    seconds: float  # the step's own timing, measured inside the child
    peak_rss_mb: float  # the child's peak resident set
    wall_seconds: float  # process start to exit, imports included
    result: T = field(default_factory=dict)  # run_child: the step's dict; in_child: what the step returned


def run_child(module: str, step: str, **kwargs: Any) -> ChildRun[dict[str, Any]]:
    """Run `step` of bench module `module` (dotted name) with JSON-able `kwargs` in a child."""
    command = [sys.executable, "-m", module, CHILD_FLAG, step, json.dumps(kwargs)]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        out = proc.stdout.read().decode("utf-8", "replace")
        proc.stdout.close()
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        errors.seek(0)
        stderr = errors.read().decode("utf-8", "replace")
    marked = [line[len(RESULT_MARK):] for line in out.splitlines() if line.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not marked:
        raise ChildFailed(f"{module} {step} exited {proc.returncode}:\n{stderr[-3000:]}")
    result = json.loads(marked[-1])
    peak = result.pop("peak_rss_mb", None) or usage.ru_maxrss / 1024
    return ChildRun(seconds=float(result.get("seconds", wall)), peak_rss_mb=peak, wall_seconds=wall, result=result)


def own_peak_rss_mb() -> float | None:
    """This process's peak resident set (its own memory since exec), or None without /proc."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return None


def _spawned(out: Any, setup: Callable[..., Callable[[], Any]], args: tuple) -> None:
    step = setup(*args)  # imports, opened destinations: not timed, as a warm process has them
    started = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - started
    peak = own_peak_rss_mb() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.send((seconds, result, peak))
    out.close()


def in_child(setup: Callable[..., Callable[[], T]], *args: Any) -> ChildRun[T]:
    """`setup(*args)` (a module-level function, its arguments picklable) run in a spawned process,
    untimed; the step it returns is then timed there. Spawned, not forked: the child's memory is
    its own image, not a copy of the benchmark's."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_spawned, args=(send, setup, args))
    started = time.perf_counter()
    child.start()
    send.close()
    try:
        seconds, result, peak = receive.recv()
    except EOFError:
        raise ChildFailed(f"{setup.__name__} failed in its child process (exit {child.exitcode})") from None
    finally:
        child.join()
    return ChildRun(seconds=seconds, peak_rss_mb=peak, wall_seconds=time.perf_counter() - started, result=result)


def median_of(runs: int, make: Callable[[], ChildRun[dict[str, Any]]]) -> ChildRun[dict[str, Any]]:
    """The run of median time among `runs` runs (its own peak RSS; the largest one is kept)."""
    done = sorted((make() for _ in range(runs)), key=lambda r: r.seconds)
    middle = done[len(done) // 2]
    middle.peak_rss_mb = max(r.peak_rss_mb for r in done)
    middle.result["spread"] = [round(r.seconds, 3) for r in done]
    return middle


def child_main(steps: dict[str, Callable[..., dict[str, Any]]], argv: list[str] | None = None) -> int:
    """Entry point of a child: run the step named on the command line, print its result."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] != CHILD_FLAG or argv[1] not in steps:
        print(f"usage: {CHILD_FLAG} <{'|'.join(steps)}> <json kwargs>", file=sys.stderr)
        return 2
    result = steps[argv[1]](**json.loads(argv[2]))
    result["peak_rss_mb"] = own_peak_rss_mb()
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def ratio(ours: float, other: float) -> str:
    return f"{ours / other:.2f}" if other else "n/a"


def median(values: list[float]) -> float:
    return statistics.median(values)
