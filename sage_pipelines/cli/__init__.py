"""The `sage` command line. Thin: every command calls the same service functions the tests call.

Each command group lives in its own module of this package exposing `register(subparsers)`,
which adds its commands with `set_defaults(func=...)`; modules are discovered, so adding a
command group touches no shared list. A `SageError` becomes one line on stderr and exit 1.
The top layer: the rules are in `services`, runs in `orchestration`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from sage_pipelines.errors import SageError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sage", description="SAGE Materialize")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
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
