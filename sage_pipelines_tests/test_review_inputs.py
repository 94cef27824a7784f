"""Defects found in review of the readers, uploads, spec, store and Dagster layer; one test each."""

from __future__ import annotations

from pathlib import Path

import pytest

from sage_pipelines.cli import main as sage_main
from sage_pipelines_tests.orchestration_fixtures import CASILLA, demo_home, land_week  # noqa: F401


def test_materialize_refuses_a_table_and_destination_that_select_nothing(demo_home, tmp_path, capsys):
    # clientes goes to the warehouse only: asking for it in the lake must not "succeed" doing nothing.
    land_week(demo_home, tmp_path, 1)
    assert sage_main(["materialize", CASILLA, "--table", "clientes", "--destination", "lake"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "clientes" in err[0] and "lake" in err[0]
