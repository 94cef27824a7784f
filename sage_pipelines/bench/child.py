"""A benchmark step timed in a spawned process of its own, with that process's peak RSS.

Spawned (not forked), so the step's memory is its own: the interpreter and imports included,
the benchmark's generated data not. Peak RSS is the kernel's VmHWM of the new process image.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB. Not `ru_maxrss`: Linux carries that
    over from the parent's image across fork + exec, so a spawned child would report at least
    the parent's size."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(out: Any, setup: Callable[..., Callable[[], Any]], args: tuple) -> None:
    step = setup(*args)  # imports, opened destinations: not timed, as a warm process has them
    started = time.perf_counter()
    result = step()
    out.send((time.perf_counter() - started, result, peak_rss_mb()))
    out.close()


def in_child(setup: Callable[..., Callable[[], T]], *args: Any) -> tuple[float, T, float]:
    """`setup(*args)` (a module-level function, its arguments picklable) run in a spawned process,
    untimed; the step it returns is then timed there: (seconds, the step's result, the process's
    peak RSS MB)."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, setup, args))
    child.start()
    send.close()
    try:
        return receive.recv()
    except EOFError:
        raise RuntimeError(f"{setup.__name__} failed in its child process (exit {child.exitcode})") from None
    finally:
        child.join()
