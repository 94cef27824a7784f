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


def test_the_newest_upload_is_the_last_added_not_the_last_by_name(demo_home, tmp_path):
    # Ids given with --id need not sort by time: "semana_9" sorts after "semana_10".
    from sage_pipelines.services.uploads import latest_upload

    land_week(demo_home, tmp_path, 1, upload_id="semana_9")
    land_week(demo_home, tmp_path, 2, upload_id="semana_10")
    assert latest_upload(demo_home, CASILLA) == "semana_10"


def test_a_data_file_given_as_sage_yaml_is_refused_in_one_short_line(samples: Path):
    # A plain-text file parses as one YAML string; the error must not echo the whole file.
    from sage_pipelines.casilla.parser import load_sage_yaml
    from sage_pipelines.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_sage_yaml(samples / "ventas_demo.csv")
    message = str(info.value)
    assert "ventas_demo.csv" in message and "expected a mapping" in message
    assert len(message) < 300


def test_a_huge_upload_id_is_refused_without_echoing_all_of_it():
    from sage_pipelines.errors import ConfigError
    from sage_pipelines.materialization.names import check_upload_id

    with pytest.raises(ConfigError) as info:
        check_upload_id("a" * 5000, "--id")
    assert "--id" in str(info.value) and len(str(info.value)) < 300
