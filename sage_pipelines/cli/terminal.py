"""What the command handlers read from and write to the terminal: aligned tables, `KEY=VALUE`
options, a password from stdin or an environment variable, a YAML file's text.

A password never travels on the command line (it would sit in shell history and `ps`): it comes
from stdin (`--password-stdin`) or from an environment variable named with `--password-env`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Iterable, Sequence

from sage_pipelines.errors import ConfigError
from sage_pipelines.services.files import read_text


def print_rows(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table on stdout (empty cells for None)."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for row in [list(headers)] + cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def parse_options(pairs: Iterable[str] | None) -> dict[str, str]:
    """`["k=v", ...]` from repeated `--option` flags."""
    options: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {pair!r}: expected KEY=VALUE")
        options[key.strip()] = value
    return options


def read_password(args: argparse.Namespace) -> str | None:
    """The password of `--password-stdin` (one line, its newline dropped) or `--password-env VAR`."""
    if args.password_stdin and args.password_env:
        raise ConfigError("use either --password-stdin or --password-env, not both")
    if args.password_stdin:
        text = sys.stdin.read()
        return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    if args.password_env:
        if args.password_env not in os.environ:
            raise ConfigError(f"--password-env: environment variable {args.password_env!r} is not set")
        return os.environ[args.password_env]
    return None


def read_text_file(path: str) -> str:
    """A YAML file's text (UTF-8, a BOM tolerated), or one line saying why it cannot be read (the
    same words the API uses for an uploaded file: `services.files`)."""
    return read_text(path)
