"""The `sage` command as a whole: which modules a command loads, and how it ends on a closed pipe."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sage_pipelines.cli import build_parser, handler_for, main

# Run one command in a fresh interpreter and report on stderr whether Dagster got imported.
PROBE = """
import sys
from sage_pipelines.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
loaded = any(m == "dagster" or m.startswith("dagster.") for m in sys.modules)
print("DAGSTER-LOADED" if loaded else "DAGSTER-NOT-LOADED", file=sys.stderr)
"""


def dagster_loaded(argv: list[str], home: Path) -> bool:
    env = {**os.environ, "SAGE_HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], env=env, capture_output=True, text=True,
                          timeout=120)
    last = done.stderr.strip().splitlines()[-1]
    assert last in ("DAGSTER-LOADED", "DAGSTER-NOT-LOADED"), done.stderr[-2000:]
    return last == "DAGSTER-LOADED"


def every_command(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(words, parser) for every leaf command of the `sage` parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, sub in action.choices.items():
                yield from every_command(sub, prefix + (word,))
            return
    yield prefix, parser


def test_every_command_names_a_handler_that_exists():
    missing = []
    for words, parser in every_command(build_parser()):
        handler = parser.get_default("handler")
        if handler is None or not callable(handler_for(argparse.Namespace(handler=handler))):
            missing.append(" ".join(words))
    assert missing == []


@pytest.mark.parametrize("argv", [
    ["--help"], ["init"], ["secrets", "list"], ["connections", "list"], ["lakes", "list"], ["casillas", "list"],
    ["materializations", "list"], ["uploads", "list", "nadie"], ["analyze", "nadie"], ["history"],
    ["servers", "list"],
], ids=lambda argv: " ".join(argv))
def test_commands_that_need_no_dagster_do_not_import_it(sage_home, argv):
    assert main(["init"]) == 0
    assert not dagster_loaded(argv, sage_home)


def test_running_a_job_does_import_dagster(sage_home):
    """The probe above sees Dagster when a command does load it."""
    assert main(["init"]) == 0
    assert dagster_loaded(["materialize", "nadie"], sage_home)


@pytest.mark.parametrize("argv", [["history"], ["secrets", "list"], ["connections", "list"], ["casillas", "list"],
                                  ["lakes", "list"]], ids=lambda argv: " ".join(argv))
def test_a_listing_whose_reader_closed_the_pipe_ends_quietly(sage_home, argv):
    """`sage history | head`: the reader went away before the listing was written."""
    assert main(["init"]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "sage_pipelines.cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "SAGE_HOME": str(sage_home)})
    proc.stdout.close()  # long before the command prints: its first write meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 0
    assert err == ""


def column(listing: str, header: str, name: str) -> str:
    """The cell under `header` in the row that starts with `name` of an aligned listing."""
    lines = listing.splitlines()
    start = lines[0].index(header)
    row = next(line for line in lines[1:] if line.split()[0] == name)
    return row[start:].split()[0]


def test_listings_show_connection_and_server_states_in_english(sage_home, capsys):
    assert main(["init"]) == 0
    assert main(["connections", "add", "copy", "--secret", "warehouse"]) == 0
    assert main(["servers", "add", "big1", "--endpoint", "redis://127.0.0.1:6379/9"]) == 0
    capsys.readouterr()
    assert main(["connections", "list"]) == 0
    assert column(capsys.readouterr().out, "STATUS", "copy") == "untested"
    assert main(["servers", "list"]) == 0
    listing = capsys.readouterr().out
    assert column(listing, "STATE", "big1") == "unknown" and column(listing, "STATE", "local") == "online"
