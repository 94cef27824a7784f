"""The package imports its own modules at module level only, so the import contract sees every
dependency (`lint-imports`, run by `make test`, checks their direction and cycles).

An import inside a function hides a dependency from the contract (and usually a cycle). The
only function-level loads of the package's own modules allowed are dynamic ones by design: the
destination kinds (`destinations.registry`, so a missing driver only matters to its kind), the
discovered command groups of the CLI (their parsers, and the handler module of the command being
run: `cli._load`) and the sub-benchmarks of `make bench`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sage_pipelines

PACKAGE = Path(sage_pipelines.__file__).resolve().parent
ROOT = PACKAGE.name

# (file relative to the package, function) where a dynamic load of our own modules is the design.
ALLOWED_DYNAMIC = {
    ("destinations/registry.py", "_load"),
    ("cli/__init__.py", "_load"),  # command groups' parsers, and the handler module of the command run
    ("bench/__main__.py", "main"),
}
_DYNAMIC_CALLS = {"import_module", "__import__"}


def function_level_imports(source: str, module: str) -> list[tuple[int, str, str]]:
    """(line, enclosing function, what) for every import of `sage_pipelines.*` inside a function,
    and every dynamic import call (`importlib.import_module`, `__import__`) inside a function.
    `module` is the dotted name of the scanned module (to resolve relative imports)."""
    found: list[tuple[int, str, str]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if function is not None:
                if isinstance(child, ast.ImportFrom):
                    target = _resolve(child, module)
                    if target == ROOT or target.startswith(ROOT + "."):
                        found.append((child.lineno, function, f"from {target} import ..."))
                elif isinstance(child, ast.Import):
                    for alias in child.names:
                        if alias.name == ROOT or alias.name.startswith(ROOT + "."):
                            found.append((child.lineno, function, f"import {alias.name}"))
                elif isinstance(child, ast.Call) and _called_name(child.func) in _DYNAMIC_CALLS:
                    found.append((child.lineno, function, f"{_called_name(child.func)}(...)"))
            visit(child, inner)

    visit(ast.parse(source), None)
    return found


def _resolve(node: ast.ImportFrom, module: str) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")[:-node.level]
    return ".".join(base + ([node.module] if node.module else []))


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _module_name(path: Path) -> str:
    parts = (ROOT,) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts)  # `pkg/__init__.py` -> `pkg.__init__`, so `from . import x` resolves to `pkg.x`


def test_the_package_imports_its_own_modules_at_module_level_only():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for line, function, what in function_level_imports(path.read_text(encoding="utf-8"), _module_name(path)):
            if (relative, function) not in ALLOWED_DYNAMIC:
                offenders.append(f"{ROOT}/{relative}:{line}: {what} inside {function}()")
    assert offenders == [], "function-level imports of the package's own modules:\n" + "\n".join(offenders)


def test_the_scan_names_a_function_level_import_by_line():
    source = (
        "import os\n"
        "from sage_pipelines.errors import SageError\n"
        "\n"
        "def late():\n"
        "    import json\n"
        "    from sage_pipelines.store.db import session_scope\n"
        "    from . import sibling\n"
        "    return importlib.import_module('sage_pipelines.cli')\n"
        "\n"
        "class Holder:\n"
        "    def method(self):\n"
        "        import sage_pipelines.types\n"
    )
    assert function_level_imports(source, "sage_pipelines.services.example") == [
        (6, "late", "from sage_pipelines.store.db import ..."),
        (7, "late", "from sage_pipelines.services import ..."),
        (8, "late", "import_module(...)"),
        (12, "method", "import sage_pipelines.types"),
    ]


def test_the_allowed_dynamic_loads_are_still_there():
    """An allowlist entry whose load went away must go too (or it silently allows a new one)."""
    used = set()
    for relative, function in ALLOWED_DYNAMIC:
        path = PACKAGE / relative
        for _, found_in, _ in function_level_imports(path.read_text(encoding="utf-8"), _module_name(path)):
            if found_in == function:
                used.add((relative, function))
    assert used == ALLOWED_DYNAMIC
