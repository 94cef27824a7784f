"""Iceberg destination: the shared scenario suite on a SQLite and a PostgreSQL catalog, read
back with pyiceberg's own scan, plus what is specific to Iceberg (snapshots, metadata)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from pyiceberg.catalog.sql import SqlCatalog

from sage_pipelines.destinations.base import LakeSettings, Strategy
from sage_pipelines.destinations.iceberg.destination import IcebergDestination
from sage_pipelines_tests.conftest import unique_name
from sage_pipelines_tests.destination_scenarios import DestinationScenarios, reader_of, row


@pytest.fixture
def lake_settings(tmp_path) -> LakeSettings:
    return LakeSettings(name="lake", warehouse=(tmp_path / "lake").as_uri(), format="iceberg")


@pytest.fixture
def namespace() -> str:
    return unique_name("ns")


@pytest.fixture
def pg_catalog_uri(pg_database) -> str:
    """A PostgreSQL database of its own holding the Iceberg SQL catalog, dropped afterwards."""
    return pg_database


class TestIcebergOnSQLiteCatalog(DestinationScenarios):
    @pytest.fixture
    def destination(self, lake_settings):
        return IcebergDestination(lake_settings)


class TestIcebergOnPostgresCatalog(DestinationScenarios):
    @pytest.fixture
    def destination(self, tmp_path, pg_catalog_uri):
        settings = LakeSettings(name="pglake", warehouse=(tmp_path / "lake").as_uri(),
                                format="iceberg", catalog_uri=pg_catalog_uri)
        yield IcebergDestination(settings)


def test_the_default_catalog_is_sqlite_beside_the_warehouse(lake_settings, namespace, tmp_path):
    destination = IcebergDestination(lake_settings)
    spec_table = _spec(namespace, Strategy.APPEND)
    destination.write(reader_of([row(1)]), spec_table, "u1")
    catalog = SqlCatalog("lake", uri=f"sqlite:///{tmp_path / 'lake' / 'catalog.db'}",
                         warehouse=lake_settings.warehouse)
    table = catalog.load_table((namespace, spec_table.name))
    assert table.scan().to_arrow().column("id").to_pylist() == [1]


def test_each_write_is_one_snapshot_whose_id_is_reported(lake_settings, namespace):
    destination = IcebergDestination(lake_settings)
    spec = _spec(namespace, Strategy.UPSERT)
    first = destination.write(reader_of([row(1), row(2)]), spec, "u1")
    second = destination.write(reader_of([row(2, codigo="x"), row(3)]), spec, "u2")
    table = destination.load(spec)
    assert [s.snapshot_id for s in table.snapshots()] == [first.extra["snapshot_id"],
                                                         second.extra["snapshot_id"]]
    assert table.current_snapshot().summary["sage.upload-id"] == "u2"
    assert second.extra["files_removed"] == 1 and second.extra["files_added"] == 1
    assert second.extra["table_location"] == table.metadata.location


def test_pyiceberg_reads_exact_decimals_from_its_own_scan(lake_settings, namespace):
    from decimal import Decimal

    destination = IcebergDestination(lake_settings)
    spec = _spec(namespace, Strategy.APPEND)
    destination.write(reader_of([row(1, monto=Decimal("12345678901234567890.1234567891"))]), spec, "u1")
    scanned = destination.load(spec).scan().to_arrow()
    assert scanned.column("monto").to_pylist() == [Decimal("12345678901234567890.1234567891")]


def _spec(namespace: str, strategy: Strategy, **kw):
    from sage_pipelines_tests.destination_scenarios import COLUMNS
    from sage_pipelines.destinations.base import TableSpec

    kw.setdefault("primary_key", ("id",) if strategy is not Strategy.APPEND else ())
    return TableSpec(name=f"t_{uuid.uuid4().hex[:8]}", schema=namespace, strategy=strategy,
                     columns=COLUMNS, **kw)


def test_a_failure_at_commit_leaves_the_previous_snapshot_and_a_rerun_succeeds(
        lake_settings, namespace, monkeypatch):
    destination = IcebergDestination(lake_settings)
    spec = _spec(namespace, Strategy.UPSERT)
    destination.write(reader_of([row(1), row(2)]), spec, "u1")
    before = destination.load(spec).current_snapshot().snapshot_id
    before_rows = destination.read(spec).to_pylist()

    catalog_class = type(destination.catalog)
    real_commit = catalog_class.commit_table

    def failing_commit(self, *args, **kwargs):  # the data files are written; the catalog fails
        raise OSError("injected: catalog unreachable")

    monkeypatch.setattr(catalog_class, "commit_table", failing_commit)
    with pytest.raises(OSError, match="injected"):
        destination.write(reader_of([row(2, codigo="new"), row(3)]), spec, "u2")
    assert destination.load(spec).current_snapshot().snapshot_id == before
    assert destination.read(spec).to_pylist() == before_rows

    monkeypatch.setattr(catalog_class, "commit_table", real_commit)
    result = destination.write(reader_of([row(2, codigo="new"), row(3)]), spec, "u2")
    assert (result.inserted, result.updated) == (1, 1)
    assert sorted(destination.read(spec).column("codigo").to_pylist()) == ["c", "c", "new"]


def test_a_postgresql_catalog_uri_uses_the_psycopg_3_driver():
    from sage_pipelines.destinations.iceberg.catalog import catalog_uri

    settings = LakeSettings(name="l", warehouse="s3://b/lake", format="iceberg",
                            catalog_uri="postgresql://sage@db:5432/catalog")
    assert catalog_uri(settings) == "postgresql+psycopg://sage@db:5432/catalog"


def test_an_s3_warehouse_needs_a_catalog_uri():
    from sage_pipelines.destinations.iceberg.catalog import catalog_uri
    from sage_pipelines.errors import ConfigError

    with pytest.raises(ConfigError, match="catalog URI"):
        catalog_uri(LakeSettings(name="l", warehouse="s3://b/lake", format="iceberg"))


def test_an_unknown_catalog_scheme_is_refused_without_showing_the_uri():
    from sage_pipelines.destinations.iceberg.catalog import open_catalog
    from sage_pipelines.errors import ConfigError

    settings = LakeSettings(name="l", warehouse="s3://b/lake", format="iceberg",
                            catalog_uri="thrift://user:s3cret@hive:9083")
    with pytest.raises(ConfigError, match="thrift") as error:
        open_catalog(settings)
    assert "s3cret" not in str(error.value)


def test_an_upsert_of_many_keys_rewrites_exactly_the_files_holding_them(lake_settings, namespace):
    """Past the listed-values limit, planning prunes by the keys' range and each file's bounds
    are searched for the keys: the files holding a key are all rewritten, the others kept."""
    destination = IcebergDestination(lake_settings)
    append = _spec(namespace, Strategy.APPEND)
    for upload, first in (("a", 0), ("b", 100), ("c", 200), ("d", 300)):  # four files of disjoint ids
        destination.write(reader_of([row(i) for i in range(first, first + 100)]), append, upload)
    upsert = dataclasses.replace(append, strategy=Strategy.UPSERT, primary_key=("id",))
    keys = list(range(110, 130)) + list(range(370, 390))  # 40 keys in files b and d; c lies between
    result = destination.write(reader_of([row(i, codigo="new") for i in keys]), upsert, "e")
    assert (result.extra["files_removed"], result.updated, result.inserted) == (2, 40, 0)
    stored = destination.read(upsert)
    codes = dict(zip(stored.column("id").to_pylist(), stored.column("codigo").to_pylist()))
    assert len(codes) == 400 and {i for i, c in codes.items() if c == "new"} == set(keys)
