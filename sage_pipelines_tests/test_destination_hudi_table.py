"""The Hudi table format as written: partition paths, file slices, the timeline, commit
metadata, refusals and failure recovery — each checked with hudi-rs, Hudi's own reader."""

from __future__ import annotations

import datetime as dt
import json
import zlib
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hudi import HudiTableBuilder

from sage_pipelines.destinations.base import LakeSettings, Partitioning, Strategy, TableSpec
from sage_pipelines.destinations.hudi.destination import HudiDestination
from sage_pipelines.destinations.hudi import timeline as timeline_module
from sage_pipelines.destinations.hudi import writer as writer_module
from sage_pipelines.errors import ConfigError, DestinationError
from sage_pipelines.types import Column, ColumnType, Kind
from sage_pipelines_tests.destination_scenarios import (
    COLUMNS,
    expected_table,
    normalized,
    reader_of,
    row,
    stored_rows,
)

NAMESPACE = "ventas"


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def destination(warehouse: Path) -> HudiDestination:
    return HudiDestination(LakeSettings(name="lake", warehouse=warehouse.as_uri(), format="hudi"))


def spec_of(strategy: Strategy, name: str = "t", **kw) -> TableSpec:
    kw.setdefault("primary_key", ("id",) if strategy is not Strategy.APPEND else ())
    kw.setdefault("columns", COLUMNS)
    return TableSpec(name=name, schema=NAMESPACE, strategy=strategy, **kw)


def base_of(warehouse: Path, spec: TableSpec) -> Path:
    return warehouse / NAMESPACE / spec.name


def hudi_rows(base: Path) -> list[dict]:
    """Every row hudi-rs returns, meta columns included."""
    batches = HudiTableBuilder.from_base_uri(str(base)).build().read()
    return pa.Table.from_batches(batches).to_pylist() if batches else []


def file_slices(base: Path) -> dict[str, tuple[str, str]]:
    """file id -> (partition path, base file name) of the latest slices hudi-rs reads."""
    table = HudiTableBuilder.from_base_uri(str(base)).build()
    return {s.file_id: (s.partition_path, s.base_file_name) for s in table.get_file_slices()}


def properties(base: Path) -> dict[str, str]:
    lines = (base / ".hoodie" / "hoodie.properties").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def timeline(base: Path) -> list[str]:
    return sorted(p.name for p in (base / ".hoodie").iterdir() if p.is_file() and p.name[0].isdigit())


def parquet_files(base: Path) -> set[str]:
    return {str(p.relative_to(base)) for p in base.rglob("*.parquet")}


def write(destination: HudiDestination, spec: TableSpec, upload_id: str, rows: list[dict]):
    return destination.write(reader_of(rows, spec.columns), spec, upload_id)


# --- partitions ------------------------------------------------------------------------------

def test_partitioned_rows_land_in_their_hive_style_partition_paths(destination, warehouse):
    spec = spec_of(Strategy.UPSERT, partitioning=Partitioning(("semana",)))
    rows = [row(1, semana=1), row(2, semana=2), row(3, semana=2), row(4, semana=3)]
    write(destination, spec, "u1", rows)
    base = base_of(warehouse, spec)
    props = properties(base)
    assert props["hoodie.table.partition.fields"] == "semana"
    assert props["hoodie.table.keygenerator.class"] == "org.apache.hudi.keygen.SimpleKeyGenerator"
    assert props["hoodie.datasource.write.hive_style_partitioning"] == "true"
    assert sorted(p for p, _ in file_slices(base).values()) == ["semana=1", "semana=2", "semana=3"]
    for r in hudi_rows(base):
        assert r["_hoodie_partition_path"] == f"semana={r['semana']}"
        assert (base / r["_hoodie_partition_path"] / r["_hoodie_file_name"]).is_file()
    for partition in ("semana=1", "semana=2", "semana=3"):
        assert "partitionDepth=1" in (base / partition / ".hoodie_partition_metadata").read_text()
    assert stored_rows(destination, spec) == normalized(expected_table(spec, [("u1", rows)]))


def test_an_upsert_touching_one_partition_writes_new_file_slices_only_there(destination, warehouse):
    spec = spec_of(Strategy.UPSERT, partitioning=Partitioning(("semana",)))
    u1 = ("u1", [row(i, semana=1 + i % 3) for i in range(1, 10)])
    write(destination, spec, *u1)
    base = base_of(warehouse, spec)
    before = file_slices(base)
    u2 = ("u2", [row(2, semana=3, codigo="nuevo"), row(50, semana=3)])  # id 2 lives in semana=3
    result = write(destination, spec, *u2)
    after = file_slices(base)
    changed = {fid for fid in after if after[fid] != before.get(fid)}
    assert {after[fid][0] for fid in changed} == {"semana=3"}
    assert {fid: v for fid, v in after.items() if v[0] != "semana=3"} == \
        {fid: v for fid, v in before.items() if v[0] != "semana=3"}
    assert result.extra["partitions"] == ["semana=3"]
    assert all(p.startswith("semana=3/") for p in result.extra["files_added"])
    assert (result.inserted, result.updated) == (1, 1)
    assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))


def test_an_upsert_that_moves_a_key_to_another_partition_leaves_no_duplicate(destination, warehouse):
    spec = spec_of(Strategy.UPSERT, partitioning=Partitioning(("semana",)))
    u1 = ("u1", [row(1, semana=1), row(2, semana=1)])
    u2 = ("u2", [row(1, semana=2, codigo="movida")])
    write(destination, spec, *u1)
    write(destination, spec, *u2)
    assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))


def test_null_partition_values_go_to_the_hive_default_partition(destination, warehouse):
    spec = spec_of(Strategy.UPSERT, partitioning=Partitioning(("semana", "fecha")))
    rows = [row(1, semana=None), row(2, fecha=None), row(3)]
    write(destination, spec, "u1", rows)
    base = base_of(warehouse, spec)
    assert properties(base)["hoodie.table.keygenerator.class"].endswith("ComplexKeyGenerator")
    assert sorted(p for p, _ in file_slices(base).values()) == [
        "semana=1/fecha=2024-01-01", "semana=1/fecha=__HIVE_DEFAULT_PARTITION__",
        "semana=__HIVE_DEFAULT_PARTITION__/fecha=2024-01-01"]
    assert stored_rows(destination, spec) == normalized(expected_table(spec, [("u1", rows)]))


def test_month_partitioning_writes_one_partition_per_month(destination, warehouse):
    spec = spec_of(Strategy.UPSERT, partitioning=Partitioning(("fecha",), "month"))
    rows = [row(1, fecha=dt.date(2024, 1, 1)), row(2, fecha=dt.date(2024, 1, 31)), row(3, fecha=dt.date(2024, 2, 29))]
    write(destination, spec, "u1", rows)
    base = base_of(warehouse, spec)
    props = properties(base)
    assert props["hoodie.table.keygenerator.class"].endswith("TimestampBasedKeyGenerator")
    assert props["hoodie.keygen.timebased.output.dateformat"] == "yyyy-MM"
    assert sorted(p for p, _ in file_slices(base).values()) == ["fecha=2024-01", "fecha=2024-02"]
    assert stored_rows(destination, spec) == normalized(expected_table(spec, [("u1", rows)]))


def test_bucket_partitioning_is_refused_before_anything_is_written(destination, warehouse):
    spec = spec_of(Strategy.UPSERT, partitioning=Partitioning(("id",), "bucket[4]"))
    with pytest.raises(ConfigError, match="bucket"):
        write(destination, spec, "u1", [row(1)])
    assert not (base_of(warehouse, spec) / ".hoodie" / "hoodie.properties").exists()


def test_the_partitioning_of_an_existing_table_cannot_change(destination, warehouse):
    spec = spec_of(Strategy.UPSERT, partitioning=Partitioning(("semana",)))
    write(destination, spec, "u1", [row(1)])
    with pytest.raises(DestinationError, match="partitioned by"):
        write(destination, spec_of(Strategy.UPSERT), "u2", [row(2)])


# --- file slices and commit metadata ----------------------------------------------------------

def test_rows_carried_over_by_an_upsert_keep_their_commit_time_and_seqno(destination, warehouse):
    spec = spec_of(Strategy.UPSERT)
    first = write(destination, spec, "u1", [row(i) for i in range(1, 5)])
    base = base_of(warehouse, spec)
    before = {r["id"]: r for r in hudi_rows(base)}
    second = write(destination, spec, "u2", [row(2, codigo="cambió")])
    after = {r["id"]: r for r in hudi_rows(base)}
    for i in (1, 3, 4):
        assert after[i]["_hoodie_commit_time"] == first.extra["instant_time"]
        assert after[i]["_hoodie_commit_seqno"] == before[i]["_hoodie_commit_seqno"]
    assert after[2]["_hoodie_commit_time"] == second.extra["instant_time"]
    assert after[2]["_hoodie_commit_seqno"].startswith(second.extra["instant_time"] + "_")
    assert second.extra["files_removed"] == [f for f in first.extra["files_added"]]
    assert len(file_slices(base)) == 1  # the update is a new slice of the same file group


def test_commit_metadata_declares_the_avro_schema_and_the_write_stats(destination, warehouse):
    columns = COLUMNS + (Column("ts", ColumnType(Kind.TIMESTAMP)), Column("corto", ColumnType(Kind.DECIMAL, 10, 2)))
    spec = spec_of(Strategy.UPSERT, columns=columns)
    result = write(destination, spec, "u1", [{**row(1), "ts": dt.datetime(2024, 5, 6, 7, 8, 9, 123456),
                                              "corto": Decimal("12345678.90")}])
    base = base_of(warehouse, spec)
    instant = result.extra["instant_time"]
    assert timeline(base) == [f"{instant}.commit", f"{instant}.commit.requested", f"{instant}.inflight"]
    metadata = json.loads((base / ".hoodie" / f"{instant}.commit").read_text())
    assert metadata["operationType"] == "UPSERT"
    fields = {f["name"]: f["type"][1] for f in json.loads(metadata["extraMetadata"]["schema"])["fields"]}
    assert fields["monto"] | {"name": None, "namespace": None} == {
        "type": "fixed", "size": 16, "logicalType": "decimal", "precision": 38, "scale": 10,
        "name": None, "namespace": None}
    assert fields["corto"]["size"] == 5
    assert fields["fecha"] == {"type": "int", "logicalType": "date"}
    assert fields["ts"] == fields["_sage_loaded_at"] == {"type": "long", "logicalType": "timestamp-micros"}
    assert fields["id"] == "long" and fields["codigo"] == "string" and fields["activo"] == "boolean"
    [stat] = metadata["partitionToWriteStats"][""]
    assert stat["path"] == result.extra["files_added"][0]
    assert stat["path"].startswith(stat["fileId"] + "_") and stat["path"].endswith(f"_{instant}.parquet")
    assert (stat["prevCommit"], stat["numWrites"], stat["numInserts"], stat["numUpdateWrites"]) == ("null", 1, 1, 0)
    assert stat["fileSizeInBytes"] == (base / stat["path"]).stat().st_size
    props = properties(base)
    assert props["hoodie.table.checksum"] == str(zlib.crc32(f"{NAMESPACE}.{spec.name}".encode()))
    assert (props["hoodie.table.version"], props["hoodie.table.type"]) == ("6", "COPY_ON_WRITE")
    assert props["hoodie.table.timeline.timezone"] == "UTC"
    table = destination.read(spec)
    assert table.column("ts").to_pylist() == [dt.datetime(2024, 5, 6, 7, 8, 9, 123456)]
    assert table.column("corto").to_pylist() == [Decimal("12345678.90")]


def test_truncate_insert_is_a_replacecommit_hiding_every_previous_file_group(destination, warehouse):
    spec = spec_of(Strategy.TRUNCATE_INSERT, partitioning=Partitioning(("semana",)))
    write(destination, spec, "u1", [row(1, semana=1), row(2, semana=2)])
    base = base_of(warehouse, spec)
    old = file_slices(base)
    result = write(destination, spec, "u2", [row(3, semana=2)])
    assert result.extra["action"] == "replacecommit"
    metadata = json.loads((base / ".hoodie" / f"{result.extra['instant_time']}.replacecommit").read_text())
    replaced = {(p, fid) for p, ids in metadata["partitionToReplaceFileIds"].items() for fid in ids}
    assert replaced == {(p, fid) for fid, (p, _) in old.items()}
    assert not set(file_slices(base)) & set(old)
    assert [r["id"] for r in hudi_rows(base)] == [3]


def test_delete_insert_replaces_only_the_file_groups_holding_deleted_rows(destination, warehouse):
    spec = spec_of(Strategy.DELETE_INSERT, delete_by=("semana",), partitioning=Partitioning(("semana",)))
    u1 = ("u1", [row(i, semana=1 + i % 2) for i in range(1, 7)])
    write(destination, spec, *u1)
    base = base_of(warehouse, spec)
    old = file_slices(base)
    u2 = ("u2", [row(100, semana=2)])
    result = write(destination, spec, *u2)
    metadata = json.loads((base / ".hoodie" / f"{result.extra['instant_time']}.replacecommit").read_text())
    assert metadata["partitionToReplaceFileIds"] == {"semana=2": [fid for fid, (p, _) in old.items() if p == "semana=2"]}
    assert result.extra["partitions"] == ["semana=2"]
    assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))


def test_instant_times_strictly_increase(destination, warehouse):
    spec = spec_of(Strategy.APPEND)
    instants = [write(destination, spec, f"u{i}", [row(i)]).extra["instant_time"] for i in range(5)]
    assert instants == sorted(set(instants)) and all(len(i) == 17 for i in instants)
    completed = [n.split(".")[0] for n in timeline(base_of(warehouse, spec)) if n.endswith(".commit")]
    assert completed == instants


# --- refusals ---------------------------------------------------------------------------------

def test_a_table_with_a_metadata_table_is_refused(destination, warehouse):
    spec = spec_of(Strategy.UPSERT)
    write(destination, spec, "u1", [row(1)])
    base = base_of(warehouse, spec)
    (base / ".hoodie" / "metadata").mkdir()
    before = (timeline(base), parquet_files(base))
    with pytest.raises(DestinationError, match="metadata table"):
        write(destination, spec, "u2", [row(2)])
    assert (timeline(base), parquet_files(base)) == before


def test_a_table_of_another_hudi_version_is_refused(destination, warehouse):
    spec = spec_of(Strategy.UPSERT)
    write(destination, spec, "u1", [row(1)])
    props_file = base_of(warehouse, spec) / ".hoodie" / "hoodie.properties"
    props_file.write_text(props_file.read_text().replace("hoodie.table.version=6", "hoodie.table.version=8"))
    with pytest.raises(DestinationError, match="version 8"):
        write(destination, spec, "u2", [row(2)])


def test_a_column_name_avro_cannot_hold_is_refused_before_anything_is_written(destination, warehouse):
    columns = (Column("id", ColumnType(Kind.INTEGER)), Column("año", ColumnType(Kind.TEXT)))
    spec = spec_of(Strategy.UPSERT, columns=columns)
    with pytest.raises(ConfigError, match="año"):
        write(destination, spec, "u1", [{"id": 1, "año": "2024"}])
    assert not base_of(warehouse, spec).exists()


def test_upsert_without_a_primary_key_is_refused(destination):
    with pytest.raises(ConfigError, match="primary_key"):
        write(destination, spec_of(Strategy.UPSERT, primary_key=()), "u1", [row(1)])


# --- failures ---------------------------------------------------------------------------------

def test_a_failure_while_writing_data_files_leaves_the_previous_commit_and_a_rerun_succeeds(
        destination, warehouse, monkeypatch):
    spec = spec_of(Strategy.UPSERT, partitioning=Partitioning(("semana",)))
    u1 = ("u1", [row(i, semana=1 + i % 3) for i in range(1, 10)])
    write(destination, spec, *u1)
    base = base_of(warehouse, spec)
    before = (timeline(base), parquet_files(base), stored_rows(destination, spec))
    real_write_table = writer_module.pq.write_table
    seen_requested: list[bool] = []

    def failing_write_table(table, where, **kw):
        seen_requested.append(any(n.endswith(".commit.requested") and n not in before[0] for n in timeline(base)))
        if len(seen_requested) == 2:
            raise OSError("disk full (injected)")
        return real_write_table(table, where, **kw)

    monkeypatch.setattr(writer_module.pq, "write_table", failing_write_table)
    u2 = ("u2", [row(1, semana=2, codigo="x"), row(2, semana=3, codigo="y"), row(3, semana=1, codigo="z")])
    with pytest.raises(OSError, match="injected"):
        write(destination, spec, *u2)
    assert seen_requested == [True, True]  # the requested instant came before any data file
    assert (timeline(base), parquet_files(base), stored_rows(destination, spec)) == before
    monkeypatch.setattr(writer_module.pq, "write_table", real_write_table)
    write(destination, spec, *u2)
    assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))


def test_a_failure_while_publishing_the_commit_leaves_the_previous_commit(destination, warehouse, monkeypatch):
    spec = spec_of(Strategy.TRUNCATE_INSERT)
    write(destination, spec, "u1", [row(1), row(2)])
    base = base_of(warehouse, spec)
    before = (timeline(base), parquet_files(base), stored_rows(destination, spec))

    def failing_complete(self, timestamp, action, metadata):
        raise OSError("rename failed (injected)")

    monkeypatch.setattr(timeline_module.Timeline, "complete", failing_complete)
    with pytest.raises(OSError, match="injected"):
        write(destination, spec, "u2", [row(3)])
    assert (timeline(base), parquet_files(base), stored_rows(destination, spec)) == before


def test_a_failed_first_write_leaves_no_table(destination, warehouse, monkeypatch):
    spec = spec_of(Strategy.APPEND)

    def failing_write_table(table, where, **kw):
        raise OSError("disk full (injected)")

    monkeypatch.setattr(writer_module.pq, "write_table", failing_write_table)
    with pytest.raises(OSError):
        write(destination, spec, "u1", [row(1)])
    base = base_of(warehouse, spec)
    assert not (base / ".hoodie" / "hoodie.properties").exists() and timeline(base) == []
    with pytest.raises(DestinationError, match="no such Hudi table"):
        destination.read(spec)


def test_append_is_a_commit_of_inserts_and_a_rerun_a_replacecommit_of_that_upload(destination, warehouse):
    spec = spec_of(Strategy.APPEND)
    u1 = ("u1", [row(1), row(1)])
    first = write(destination, spec, *u1)
    second = write(destination, spec, "u2", [row(2)])
    rerun = write(destination, spec, *u1)
    assert (first.extra["action"], second.extra["action"], rerun.extra["action"]) == \
        ("commit", "commit", "replacecommit")
    assert properties(base_of(warehouse, spec))["hoodie.table.recordkey.fields"] == "_sage_upload_id,_sage_row_id"
    keys = sorted(r["_hoodie_record_key"] for r in hudi_rows(base_of(warehouse, spec)))
    assert keys == ["_sage_upload_id:u1,_sage_row_id:0", "_sage_upload_id:u1,_sage_row_id:1",
                    "_sage_upload_id:u2,_sage_row_id:0"]
    assert "_sage_row_id" not in destination.read(spec).column_names
    assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, ("u2", [row(2)]), u1]))


def test_day_partitioning_of_a_timestamp_column_uses_utc_days(destination, warehouse):
    columns = (Column("id", ColumnType(Kind.INTEGER)), Column("ts", ColumnType(Kind.TIMESTAMP)))
    spec = spec_of(Strategy.UPSERT, columns=columns, partitioning=Partitioning(("ts",), "day"))
    rows = [{"id": 1, "ts": dt.datetime(2024, 3, 1, 23, 59, 59, 999999)}, {"id": 2, "ts": dt.datetime(2024, 3, 2)},
            {"id": 3, "ts": None}]
    write(destination, spec, "u1", rows)
    base = base_of(warehouse, spec)
    assert sorted(p for p, _ in file_slices(base).values()) == [
        "ts=2024-03-01", "ts=2024-03-02", "ts=__HIVE_DEFAULT_PARTITION__"]
    assert properties(base)["hoodie.keygen.timebased.timestamp.type"] == "EPOCHMICROSECONDS"
    assert sorted(destination.read(spec).select(["id", "ts"]).to_pylist(), key=lambda r: r["id"]) == rows


def test_evolve_keeps_a_stored_column_the_upload_lacks_and_fills_it_with_null(destination, warehouse):
    spec = spec_of(Strategy.UPSERT)
    write(destination, spec, "u1", [row(1, nota="vieja")])
    narrower = spec_of(Strategy.UPSERT, columns=tuple(c for c in COLUMNS if c.name != "nota"))
    write(destination, narrower, "u2", [{k: v for k, v in row(2).items() if k != "nota"}])
    notes = {r["id"]: r["nota"] for r in destination.read(spec).to_pylist()}
    assert notes == {1: "vieja", 2: None}
