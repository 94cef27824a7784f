"""Helpers shared by the secrets, connections and lakes tests (not a test module)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest

from sage_pipelines.cli import main
from sage_pipelines.settings import SageHome


def canary() -> str:
    """A password that must never show up anywhere in plaintext."""
    return f"Canary-Pa55-{uuid.uuid4()}"


@pytest.fixture
def home(sage_home: Path) -> SageHome:
    """A SAGE_HOME after `sage init` (store, key, built-ins)."""
    assert main(["init"]) == 0
    return SageHome.from_env()


def add_secret_cli(monkeypatch: pytest.MonkeyPatch, name: str, type_: str, password: str | None,
                   *flags: str) -> int:
    """`sage secrets add` with the password typed on stdin, as a user would."""
    args = ["secrets", "add", name, "--type", type_, *flags]
    if password is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        args.append("--password-stdin")
    return main(args)
