"""The `sage` command line. Thin: every command calls the same functions the tests call.

Each command group lives in its own module exposing `register(subparsers)`, which adds its
commands with `set_defaults(func=...)`. A `SageError` becomes one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sage_pipelines.errors import SageError

COMMAND_MODULES = (
    "sage_pipelines.cli.setup",
    "sage_pipelines.cli.secrets",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sage", description="SAGE Materialize")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except SageError as exc:
        print(f"sage: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
