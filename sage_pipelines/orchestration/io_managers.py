"""The IO manager of every destination kind, delegating to `destinations/`.

An asset returns a lazy Arrow `RecordBatchReader` of its upload file; the IO manager writes it
with the table's strategy (read from the asset's definition metadata), records a
`materialization_history` row either way, and reports Dagster's standard metadata. Loading an
input reads the table back as an Arrow table, so downstream assets can build on it.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any, Iterator, Optional

import pyarrow as pa
from dagster import (
    ConfigurableIOManager,
    InputContext,
    MetadataValue,
    OutputContext,
    TableColumn,
    TableSchema,
)

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.destinations.base import Destination, TableSpec, WriteResult
from sage_pipelines.destinations.checks import TableLocation
from sage_pipelines.destinations.registry import DESTINATION_KINDS
from sage_pipelines.destinations.spec_json import spec_from_json
from sage_pipelines.materialization.model import LOCAL_SERVER
from sage_pipelines.orchestration.checks import CHECKS_KEY, TableCheck, run_checks
from sage_pipelines.orchestration.resources import SageStore
from sage_pipelines.servers.instance import SERVER_TAG
from sage_pipelines.services.destinations import open_destination
from sage_pipelines.settings import SageHome
from sage_pipelines.store.history import record_history
from sage_pipelines.store.models import MaterializationServer, utcnow
from sage_pipelines.store.states import HistoryStatus

SPEC_KEY = "sage/table_spec"
SERVER_REASON_TAG = "sage/server_reason"


def column_schema(spec: TableSpec) -> TableSchema:
    return TableSchema(columns=[TableColumn(c.name, str(c.type)) for c in spec.table_columns])


def _ids(meta: Any) -> dict[str, Any]:
    return {k: meta.get(f"sage/{k}") for k in ("materialization_id", "table_id", "destination_id",
                                                "casilla", "destination")}


class SageIOManager(ConfigurableIOManager):
    """Writes an upload's Arrow batches to one destination with the table's strategy, records a
    `materialization_history` row either way, and reads the table back as an Arrow table for
    downstream assets. One class serves every destination kind: the destination is opened by
    name from the store (a connection, or a lake and a table format), so no credential is ever
    part of its config.

    Example::

        store = SageStore(sage_home=EnvVar("SAGE_HOME"))
        Definitions(assets=..., resources={
            "io_ventas__warehouse": SageIOManager(store=store, connection="warehouse"),
            "io_ventas__lake": SageIOManager(store=store, lake="lake", format="iceberg"),
        })
    """

    store: SageStore = Field(description="The installation (SAGE_HOME and its metadata store) the "
                                         "destination is registered in and history is recorded to.")
    connection: Optional[str] = Field(default=None, description="A database destination: the name of a "
                                      "registered connection (`sage connections add`). Unset for a lake.")
    lake: Optional[str] = Field(default=None, description="A lake destination: the name of a registered "
                                "lake (`sage lakes add`). Unset for a database.")
    format: Optional[str] = Field(default=None, description="A lake destination's table format: iceberg, "
                                  "delta or hudi.")

    @property
    def home(self) -> SageHome:
        return self.store.home

    def open(self) -> Destination:
        with self.store.session() as session:
            return open_destination(session, connection=self.connection, lake=self.lake, format=self.format)

    def handle_output(self, context: OutputContext, obj: pa.RecordBatchReader | pa.Table | None) -> None:
        if obj is None:
            return
        if isinstance(obj, pa.Table):
            obj = obj.to_reader()
        meta = context.definition_metadata
        spec = spec_from_json(meta[SPEC_KEY])
        checks = [TableCheck.from_json(c) for c in _json(meta.get(CHECKS_KEY)) or []]
        upload_id = context.partition_key
        ids = _ids(meta)
        tags = _run_tags(context)
        server = tags.get(SERVER_TAG, LOCAL_SERVER)
        started = utcnow()
        t0 = time.perf_counter()
        counted = RowCounter(obj)
        try:
            destination = self.open()
            result = destination.write(counted.reader(), spec, upload_id)
        except Exception as exc:
            self._record(ids, spec, upload_id, context.run_id, started, server, tags,
                         error=str(exc), seconds=time.perf_counter() - t0)
            raise
        outcomes = run_checks(destination, spec, checks, counted.rows, result) if checks else None
        self._record(ids, spec, upload_id, context.run_id, started, server, tags, result=result, checks=outcomes)
        context.add_output_metadata(self.output_metadata(spec, result, server, destination.locate(spec),
                                                         counted.rows))

    def output_metadata(self, spec: TableSpec, result: WriteResult, server: str, location: TableLocation,
                        rows_in_upload: int) -> dict[str, Any]:
        """`dagster/row_count` is the table's size after the write; the upload's figures have
        their own keys."""
        metadata: dict[str, Any] = {
            "dagster/table_name": MetadataValue.text(location.name),
            "dagster/column_schema": MetadataValue.table_schema(column_schema(spec)),
            "rows_in_upload": MetadataValue.int(rows_in_upload),
            "inserted": MetadataValue.int(result.inserted),
            "updated": MetadataValue.int(result.updated),
            "deleted": MetadataValue.int(result.deleted),
            "bytes": MetadataValue.int(result.bytes),
            "seconds": MetadataValue.float(round(result.seconds, 4)),
            "strategy": MetadataValue.text(spec.strategy.value),
            "server": MetadataValue.text(server),
            "sage/host": MetadataValue.text(socket.gethostname()),  # where the step ran (routing proof)
            "sage/pid": MetadataValue.int(os.getpid()),
        }
        if result.table_rows is not None:
            metadata["dagster/row_count"] = MetadataValue.int(result.table_rows)
        if location.uri:
            metadata["dagster/uri"] = MetadataValue.text(location.uri)
        for key, value in result.extra.items():
            metadata[f"sage/{key}"] = value if isinstance(value, (int, float, str, bool)) else MetadataValue.json(value)
        return metadata

    def _record(self, ids: dict[str, Any], spec: TableSpec, upload_id: str, run_id: str,
                started: Any, server: str, tags: Any, result: WriteResult | None = None,
                error: str | None = None, seconds: float = 0.0, checks: list[dict[str, Any]] | None = None) -> None:
        with self.store.session() as session:
            record_history(
                session,
                materialization_id=ids["materialization_id"], tabla_id=ids["table_id"],
                destino_id=ids["destination_id"], casilla=ids["casilla"] or "",
                tabla=spec.qualified_name, destino=ids["destination"] or "", upload_id=upload_id,
                estado=HistoryStatus.SUCCEEDED if error is None else HistoryStatus.FAILED, estrategia=spec.strategy.value,
                servidor_id=_server_id(session, server), servidor=server, razon_servidor=tags.get(SERVER_REASON_TAG),
                filas=result.rows if result else 0, insertadas=result.inserted if result else 0,
                actualizadas=result.updated if result else 0, eliminadas=result.deleted if result else 0,
                bytes=result.bytes if result else 0, filas_tabla=result.table_rows if result else None,
                segundos=result.seconds if result else seconds, error=error, comprobaciones=checks,
                dagster_run_id=run_id, iniciado_en=started, finalizado_en=utcnow())

    def load_input(self, context: InputContext) -> pa.Table:
        meta = context.upstream_output.definition_metadata if context.upstream_output else {}
        return self.open().read(spec_from_json(meta[SPEC_KEY]))


class RowCounter:
    """Counts the upload's rows as the destination reads them: the reconciliation's own figure,
    not the destination's."""

    def __init__(self, batches: pa.RecordBatchReader):
        self.batches = batches
        self.rows = 0

    def reader(self) -> pa.RecordBatchReader:
        def counted() -> Iterator[pa.RecordBatch]:
            for batch in self.batches:
                self.rows += batch.num_rows
                yield batch

        return pa.RecordBatchReader.from_batches(self.batches.schema, counted())


def _json(value: Any) -> Any:
    """Definition metadata given as a plain list comes back wrapped in a JsonMetadataValue."""
    return getattr(value, "value", value)


def _run_tags(context: OutputContext) -> dict[str, str]:
    """The run's tags (the balancer's choice lives there); none outside a run (direct IO calls)."""
    try:
        return dict(context.step_context.run_tags)
    except Exception:  # noqa: BLE001 - OutputContext built without a step context
        return {}


def _server_id(session: Session, name: str) -> int | None:
    return session.scalar(select(MaterializationServer.id).where(MaterializationServer.nombre == name))


# Every kind of the registry shares the one IO manager class (it opens the destination by name).
IO_MANAGERS: dict[str, type[SageIOManager]] = dict.fromkeys(DESTINATION_KINDS, SageIOManager)
