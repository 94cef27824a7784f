"""What every lake destination does around its format-specific commit.

A write reads the whole upload first (so a `DataError` leaves the lake untouched and is raised
unchanged) into a temporary file it maps back rather than onto the heap, refuses NULL keys,
keeps the last row per key for upsert, then asks the format to commit once; a commit that lost
a race with another writer starts over from the new table state, a few times, before the write
fails with a `DestinationError`.
"""

from __future__ import annotations

import time
from typing import ClassVar, Sequence

import pyarrow as pa

from sage_pipelines.destinations.base import Capabilities, LakeSettings, TableSpec, WriteResult
from sage_pipelines.destinations.checks import KeyCheck, TableLocation, Violations, arrow_violations
from sage_pipelines.destinations.lake.storage import table_uri
from sage_pipelines.destinations.lake.rows import collect, prepare
from sage_pipelines.destinations.scratch import scratch_path
from sage_pipelines.errors import DestinationError

DEFAULT_NAMESPACE = "default"
MAX_ATTEMPTS = 8


class LakeDestination:
    """Base of the lake destinations: subclasses set `format`, `retry_on` and `write_once`."""

    format: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities]
    retry_on: ClassVar[tuple[type[BaseException], ...]] = ()

    def __init__(self, settings: LakeSettings):
        self.settings = settings

    @staticmethod
    def namespace(table: TableSpec) -> str:
        return table.schema or DEFAULT_NAMESPACE

    def describe(self, table: TableSpec) -> str:
        return f"{self.settings.name}.{self.namespace(table)}.{table.name} ({self.format})"

    def write(self, batches: pa.RecordBatchReader, table: TableSpec, upload_id: str) -> WriteResult:
        # The upload is spooled to a file of this write's own and mapped back (see `collect`);
        # it lives under TMPDIR, which should be a disk, not a tmpfs (that would be RAM again).
        # The file has no name (`scratch_path`), so a writer killed at any point leaves none.
        with scratch_path("sage-lake-upload-", ".arrow") as spool:
            return self._write(batches, table, upload_id, spool)

    def _write(self, batches: pa.RecordBatchReader, table: TableSpec, upload_id: str,
               spool: str) -> WriteResult:
        started = time.perf_counter()
        upload = collect(batches, upload_id, spool)
        nbytes, received = upload.nbytes, upload.num_rows
        upload = prepare(upload, table)
        for attempt in range(MAX_ATTEMPTS):
            try:
                result = self.write_once(upload, table, upload_id)
                break
            except self.retry_on as exc:
                if attempt == MAX_ATTEMPTS - 1:
                    raise DestinationError(f"{self.describe(table)}: gave up after {MAX_ATTEMPTS} "
                                           f"conflicting concurrent commits: {exc}") from exc
                time.sleep(0.05 * (attempt + 1))
        result.rows, result.bytes = upload.num_rows, nbytes
        result.superseded = received - upload.num_rows  # upsert: earlier rows of a key
        result.seconds = time.perf_counter() - started
        return result

    def write_once(self, upload: pa.Table, table: TableSpec, upload_id: str) -> WriteResult:
        """Commit the prepared upload once; raise one of `retry_on` if another commit won.
        Sets `table_rows` from the snapshot it committed."""
        raise NotImplementedError

    def read(self, table: TableSpec) -> pa.Table:
        raise NotImplementedError

    def violations(self, table: TableSpec, checks: Sequence[KeyCheck]) -> list[Violations]:
        """Answered over the table as the format's own reader returns it."""
        return arrow_violations(self.read(table), checks)

    def locate(self, table: TableSpec, uri: bool = True) -> TableLocation:
        return TableLocation(f"{self.settings.name}.{self.namespace(table)}.{table.name}",
                             self.table_uri(table) if uri else None)

    def table_uri(self, table: TableSpec) -> str | None:
        """Where the table's files live (`<warehouse>/<namespace>/<table>` unless the format says)."""
        return table_uri(self.settings.warehouse, self.namespace(table), table.name)
