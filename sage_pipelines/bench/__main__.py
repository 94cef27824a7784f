"""`python -m sage_pipelines.bench [--only sql,lakes] [--rows N]`: runs every sub-benchmark.

A sub-benchmark is a module of this package with `add_arguments(parser)` (optional) and
`run(args)`; modules listed in SUB_BENCHMARKS that do not exist yet are skipped.
"""

from __future__ import annotations

import argparse
import importlib

SUB_BENCHMARKS = ("sql", "lakes", "peers", "small", "scale")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sage_pipelines.bench")
    parser.add_argument("--only", default="", help="comma-separated sub-benchmarks (default: all)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per generated upload")
    modules = []
    for name in SUB_BENCHMARKS:
        try:
            module = importlib.import_module(f"sage_pipelines.bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sage_pipelines.bench.{name}":
                raise
            continue
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser.add_argument_group(name))
        modules.append((name, module))
    args = parser.parse_args(argv)
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    for name, module in modules:
        if not only or name in only:
            print(f"\n=== bench: {name} ===", flush=True)
            module.run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
