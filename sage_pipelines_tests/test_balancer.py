"""The balancer's rule, as a table of cases (one pure function, no servers needed)."""

from __future__ import annotations

import pytest

from sage_pipelines.errors import ConfigError
from sage_pipelines.servers.balancer import Policy, ServerState, assign_steps, choose_server

KB, MB = 1_000, 1_000_000
LOCAL = ServerState("local", kind="local", online=True, capacity=1)


def remote(name: str, online: bool = True, capacity: int = 2, priority: int = 0, running: int = 0,
           queued: int = 0) -> ServerState:
    return ServerState(name, "remote", online, capacity, priority, running, queued)


WAIT = Policy(no_remote="wait")

# (case, file bytes, servers, pinned, policy, expected server, expected waits)
CASES = [
    ("small file runs locally even with a free remote", 10 * KB, [LOCAL, remote("a")], None, Policy(), "local", False),
    ("just under 1 MB is still local", MB - 1, [LOCAL, remote("a")], None, Policy(), "local", False),
    ("exactly 1 MB goes remote", MB, [LOCAL, remote("a")], None, Policy(), "a", False),
    ("pinned small file goes to its server", 10 * KB, [LOCAL, remote("a")], "a", Policy(), "a", False),
    ("pinned large file goes to an offline server", 5 * MB, [LOCAL, remote("a", online=False), remote("b")],
     "a", Policy(), "a", False),
    ("pinned to local stays local", 5 * MB, [LOCAL, remote("a")], "local", Policy(), "local", False),
    ("auto is not a pin", 5 * MB, [LOCAL, remote("a")], "auto", Policy(), "a", False),
    ("higher priority wins over more free slots", 5 * MB,
     [LOCAL, remote("a", capacity=8, priority=0), remote("b", capacity=1, priority=5)], None, Policy(), "b", False),
    ("same priority: more free slots wins", 5 * MB,
     [LOCAL, remote("a", capacity=4, running=3), remote("b", capacity=4, running=1)], None, Policy(), "b", False),
    ("same priority and free slots: fewer queued wins", 5 * MB,
     [LOCAL, remote("a", capacity=4, queued=2), remote("b", capacity=3, queued=1)], None, Policy(), "b", False),
    ("full server is skipped for one with a free slot", 5 * MB,
     [LOCAL, remote("a", capacity=1, priority=9, running=1), remote("b", priority=0)], None, Policy(), "b", False),
    ("offline server is skipped", 5 * MB, [LOCAL, remote("a", online=False, priority=9), remote("b")],
     None, Policy(), "b", False),
    ("no remote online: fallback to local", 5 * MB, [LOCAL, remote("a", online=False)], None, Policy(), "local", False),
    ("no remote registered: local", 5 * MB, [LOCAL], None, WAIT, "local", False),
    ("no remote online, policy wait: queued on the best remote", 5 * MB,
     [LOCAL, remote("a", online=False, priority=1), remote("b", online=False, priority=3)], None, WAIT, "b", True),
    ("all full: queued on the best by priority", 5 * MB,
     [LOCAL, remote("a", capacity=1, running=1, priority=1), remote("b", capacity=1, running=1, priority=2)],
     None, Policy(), "b", True),
    ("all full, same priority: queued where fewest wait", 5 * MB,
     [LOCAL, remote("a", capacity=1, running=1, queued=3), remote("b", capacity=1, running=1, queued=1)],
     None, Policy(), "b", True),
    ("a container server is a remote one", 5 * MB,
     [LOCAL, ServerState("c", "container", True, 1)], None, Policy(), "c", False),
]


@pytest.mark.parametrize("case, size, servers, pinned, policy, server, waits", CASES, ids=[c[0] for c in CASES])
def test_balancer_case(case, size, servers, pinned, policy, server, waits):
    decision = choose_server(size, servers, pinned, policy)
    assert (decision.server, decision.waits) == (server, waits), decision.reason
    assert decision.reason


def test_pinned_to_an_unknown_server_is_a_config_error():
    with pytest.raises(ConfigError, match="server 'nope' is not registered"):
        choose_server(5 * MB, [LOCAL], "nope")


def test_assigning_an_upload_counts_steps_already_sent_to_a_server():
    servers = [LOCAL, remote("a", capacity=1, priority=1), remote("b", capacity=1)]
    steps = [("small", 10 * KB, None), ("big1", 5 * MB, None), ("big2", 4 * MB, None), ("big3", 3 * MB, None)]
    decisions = assign_steps(steps, servers)
    assert {k: (d.server, d.waits) for k, d in decisions.items()} == {
        "small": ("local", False), "big1": ("a", False), "big2": ("b", False), "big3": ("a", True)}


def test_the_no_remote_policy_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SAGE_BALANCER_NO_REMOTE", "wait")
    assert Policy.from_env().no_remote == "wait"
    monkeypatch.setenv("SAGE_BALANCER_NO_REMOTE", "sometimes")
    with pytest.raises(ConfigError, match="SAGE_BALANCER_NO_REMOTE"):
        Policy.from_env()
