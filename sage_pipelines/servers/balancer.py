"""The balancer: which server materializes one step, decided from the step's file size.

One pure function, `choose_server`, holds the whole rule so it can be tested with a table of
cases; `assign_steps` applies it to an upload's steps one after another, counting each step it
sends to a server as queued there, so three big files do not all see the same free slot.

Rule, in order:
1. a materialization pinned to a server (`server: NAME`) always goes there;
2. a file under `policy.small_file_bytes` (1 MB) always runs on `local`;
3. otherwise the online remote server with free capacity and the best score: highest priority,
   then most free slots, then fewest queued steps (then name, so the choice is deterministic);
4. every online server full: queue on the best of them (the step waits for a slot);
5. no remote server online: `local` (policy `no_remote="local"`, the default) or queue on the
   best registered remote server until its worker comes back (`no_remote="wait"`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Iterable, Literal

from sage_pipelines.errors import ConfigError
from sage_pipelines.materialization.model import AUTO_SERVER, LOCAL_SERVER
SMALL_FILE_BYTES = 1_000_000
NO_REMOTE_ENV = "SAGE_BALANCER_NO_REMOTE"


@dataclass(frozen=True)
class ServerState:
    """What the balancer knows about one server at decision time."""

    name: str
    kind: str = "remote"  # local | remote | container
    online: bool = False
    capacity: int = 1
    priority: int = 0  # higher wins
    running: int = 0  # steps executing now
    queued: int = 0  # steps waiting for a slot (reserved by the worker, or assigned in this pass)

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.running - self.queued)

    @property
    def is_local(self) -> bool:
        return self.kind == LOCAL_SERVER


@dataclass(frozen=True)
class Policy:
    small_file_bytes: int = SMALL_FILE_BYTES
    no_remote: Literal["local", "wait"] = "local"

    @classmethod
    def from_env(cls) -> "Policy":
        value = os.environ.get(NO_REMOTE_ENV, "local").strip().lower() or "local"
        if value not in ("local", "wait"):
            raise ConfigError(f"{NO_REMOTE_ENV}={value!r}: use 'local' or 'wait'")
        return cls(no_remote=value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Decision:
    server: str
    reason: str
    waits: bool = False  # the step is queued behind a full (or offline) server


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.2f} MB"


def choose_server(file_bytes: int, servers: Iterable[ServerState], pinned: str | None = None,
                  policy: Policy = Policy()) -> Decision:
    """The server for one step materializing a file of `file_bytes` bytes."""
    servers = list(servers)
    if pinned and pinned != AUTO_SERVER:
        if pinned != LOCAL_SERVER and pinned not in {s.name for s in servers}:
            raise ConfigError(f"server {pinned!r} is not registered (see `sage servers list`)")
        return Decision(pinned, f"pinned to {pinned} by the materialization")
    if file_bytes < policy.small_file_bytes:
        return Decision(LOCAL_SERVER,
                        f"file of {_mb(file_bytes)} is under {_mb(policy.small_file_bytes)}: local")
    remotes = [s for s in servers if not s.is_local]
    online = [s for s in remotes if s.online]
    if not online:
        if remotes and policy.no_remote == "wait":
            best = min(remotes, key=lambda s: (-s.priority, s.queued, s.name))
            return Decision(best.name, f"no remote server online; waiting for {best.name}", waits=True)
        return Decision(LOCAL_SERVER, "no remote server online: fallback to local")
    free = [s for s in online if s.free > 0]
    if free:
        best = min(free, key=lambda s: (-s.priority, -s.free, s.queued, s.name))
        return Decision(best.name, f"file of {_mb(file_bytes)}: {best.name} online, priority {best.priority}, "
                                   f"{best.free}/{best.capacity} slots free")
    best = min(online, key=lambda s: (-s.priority, s.queued, s.name))
    return Decision(best.name, f"all online servers full: queued on {best.name} "
                               f"(priority {best.priority}, {best.queued} queued)", waits=True)


def assign_steps(steps: Iterable[tuple[str, int, str | None]], servers: Iterable[ServerState],
                 policy: Policy = Policy()) -> dict[str, Decision]:
    """Decide every step of an upload: `steps` are (step id, file bytes, pinned server or None).

    Larger files are placed first (they are the ones that need a remote slot); each step sent to
    a server counts as queued there for the steps decided after it.
    """
    state = {s.name: s for s in servers}
    decisions: dict[str, Decision] = {}
    for step, size, pinned in sorted(steps, key=lambda s: (-s[1], s[0])):
        decision = choose_server(size, state.values(), pinned, policy)
        decisions[step] = decision
        chosen = state.get(decision.server)
        if chosen is not None and not chosen.is_local:
            state[chosen.name] = replace(chosen, queued=chosen.queued + 1)
    return decisions
