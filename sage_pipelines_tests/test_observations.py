"""An upload's files as the observations of the casilla's source assets: one per catalog file it
carries, with its size, SHA-256 and the rows the casilla's reader finds (from a folder or a ZIP)."""

from __future__ import annotations

import csv
import hashlib
import zipfile

from dagster import AssetKey, DagsterInstance

from sage_pipelines.demo.data import write_week
from sage_pipelines.orchestration.definitions_factory import build_definitions
from sage_pipelines.orchestration.observations import observe_uploads
from sage_pipelines.services.uploads import add_upload
from sage_pipelines.store.db import session_scope
from sage_pipelines_tests.orchestration_fixtures import CASILLA, demo_home, land_week, sensor_context  # noqa: F401


def rows_of(path) -> int:
    with path.open(encoding="utf-8", newline="") as f:
        return sum(1 for _ in csv.DictReader(f))


def test_each_file_of_an_upload_is_observed_with_its_size_checksum_and_rows(demo_home, tmp_path):
    upload = land_week(demo_home, tmp_path, 2, "obs-1")
    observed = {o.asset_key: o for o in observe_uploads(demo_home, CASILLA, [upload])}
    assert set(observed) == {AssetKey([CASILLA, c]) for c in ("clientes", "productos", "ventas")}
    for catalog in ("clientes", "productos", "ventas"):
        source = demo_home.upload_dir(CASILLA, upload) / f"{catalog}.csv"
        o = observed[AssetKey([CASILLA, catalog])]
        assert o.partition == upload
        assert o.metadata["bytes"].value == source.stat().st_size
        assert o.metadata["sha256"].value == hashlib.sha256(source.read_bytes()).hexdigest()
        assert o.metadata["dagster/row_count"].value == rows_of(source)


def test_a_zip_members_checksum_is_of_the_member_itself(demo_home, tmp_path):
    folder = write_week(tmp_path / "w1", 1)
    package = tmp_path / "semana.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f.name)
    with session_scope(demo_home) as session:
        upload = add_upload(session, demo_home, CASILLA, package, upload_id="obs-zip").id
    observed = {o.asset_key.path[-1]: o for o in observe_uploads(demo_home, CASILLA, [upload])}
    ventas = folder / "ventas.csv"
    assert observed["ventas"].metadata["sha256"].value == hashlib.sha256(ventas.read_bytes()).hexdigest()
    assert observed["ventas"].metadata["dagster/row_count"].value == rows_of(ventas)


def test_the_landing_sensor_reports_the_observations_of_the_uploads_it_finds(demo_home, tmp_path):
    sensor = build_definitions(demo_home).resolve_sensor_def("sage_landing_sensor")
    upload = land_week(demo_home, tmp_path, 1, "obs-sensor")
    with DagsterInstance.ephemeral() as instance:
        result = sensor(sensor_context(demo_home, instance))
    assert sorted((e.asset_key.path[-1], e.partition) for e in result.asset_events) == [
        ("clientes", upload), ("productos", upload), ("ventas", upload)]
