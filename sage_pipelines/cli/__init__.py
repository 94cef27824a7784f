"""The `sage` command line. Thin: every command calls the same service functions the tests call.

A command group is declared in `commands/<group>.py` and run by `handlers/<module>.py`:
- `commands/<group>.py` declares its arguments (`register(subparsers)`) and names the function
  that runs each command (`set_defaults(handler="<module>:<function>")`, usually the module of
  the same name). It imports only what a parser needs, so building the whole parser
  (`sage --help`) stays cheap;
- `handlers/<module>.py` holds those functions, with the services (and, for `materialize`,
  `dev`, `demo` and `servers status`, Dagster and Celery) imported at module level. Only the
  handler module of the command being run is loaded, so `sage secrets list` never imports Dagster.

The command groups are discovered and the handler module is loaded in `_load`, the one dynamic
import of the CLI: adding a command group touches no shared list. A `SageError` becomes one line
on stderr and exit 1; a reader that closes the pipe early (`sage history | head`) ends the
command quietly. Every change a command makes is audited as `cli:<os user>`: the CLI is the local
admin of its SAGE_HOME. The top layer: the rules are in `services`, runs in `orchestration`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

from sage_pipelines.errors import SageError
from sage_pipelines.services.audit import acting_as, cli_actor

COMMANDS = f"{__name__}.commands"
HANDLERS = f"{__name__}.handlers"
_COMMANDS_DIR = Path(__file__).resolve().parent / "commands"


def _load(module: str) -> ModuleType:
    """The one dynamic load of the package's own modules in the CLI: a command group's parser
    declaration, or the handler module of the command being run."""
    return importlib.import_module(module)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sage", description="SAGE Materialize")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules([str(_COMMANDS_DIR)]), key=lambda m: m.name):
        if not info.name.startswith("_"):
            _load(f"{COMMANDS}.{info.name}").register(sub)
    return parser


def handler_for(args: argparse.Namespace):  # noqa: ANN201 (a handler: Namespace -> int)
    """The function a parsed command line names (`handler="<module>:<function>"`)."""
    module, _, function = args.handler.partition(":")
    return getattr(_load(f"{HANDLERS}.{module}"), function)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with acting_as(cli_actor()):  # every change this command makes is audited as cli:<os user>
            result = handler_for(args)(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except SageError as exc:
        print(f"sage: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 0
    return int(result or 0)


def _silence_stdout() -> None:
    """The reader of our output went away (`| head`): what is left to print goes nowhere, and
    Python's final flush of stdout at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
