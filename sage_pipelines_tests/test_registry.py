"""One registry of destination kinds: every list of kinds is derived from it, and reading it (as
`sage --help` does) imports no driver."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from sage_pipelines.cli import main
from sage_pipelines.destinations.registry import DATABASE_KINDS, DESTINATION_KINDS, LAKE_FORMATS, KINDS
from sage_pipelines.orchestration.io_managers import IO_MANAGERS
from sage_pipelines.servers.instance import REPO_DAGSTER_YAML, WRITER_TAGS
from sage_pipelines.services.secrets import DATABASE_TYPES, SECRET_TYPES

DRIVERS = ("duckdb", "psycopg", "pymysql", "pymssql", "pyiceberg", "deltalake", "hudi")


def imported_drivers(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(sorted(m for m in {DRIVERS!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return eval(out.strip().splitlines()[-1])  # noqa: S307 - our own printed list


def test_sage_help_and_the_registry_import_no_driver():
    assert imported_drivers("from sage_pipelines.cli import main\ntry:\n    main(['secrets', 'add', '--help'])\n"
                            "except SystemExit:\n    pass\nimport sage_pipelines.destinations.registry") == []


def test_using_a_kind_imports_its_own_driver_only():
    assert imported_drivers("from sage_pipelines.destinations.registry import destination_class\n"
                            "destination_class('mysql')") == ["pymysql"]


def test_the_lists_of_kinds_come_from_the_registry():
    assert DESTINATION_KINDS == tuple(k.name for k in KINDS)
    assert DATABASE_TYPES == DATABASE_KINDS == ("postgresql", "mysql", "sqlserver", "duckdb")
    assert SECRET_TYPES == DATABASE_KINDS + ("s3", "broker")
    assert LAKE_FORMATS == ("iceberg", "delta", "hudi")
    assert set(IO_MANAGERS) == set(DESTINATION_KINDS)


def test_the_secret_type_choices_of_the_cli_are_the_registrys(capsys):
    try:
        main(["secrets", "add", "--help"])
    except SystemExit:
        pass
    assert "{" + ",".join(SECRET_TYPES) + "}" in capsys.readouterr().out


def test_the_shipped_dagster_yaml_limits_every_writer_tag_to_one_run_per_value():
    limits = yaml.safe_load(Path(REPO_DAGSTER_YAML).read_text())["run_coordinator"]["config"]["tag_concurrency_limits"]
    for key in WRITER_TAGS.values():
        assert {"key": key, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
