"""What an upload's files look like when they land: an observation of each catalog's source asset.

Every catalog of a casilla is an external asset (`[casilla, catalog]`, partitioned by upload);
when an upload lands (the landing sensor, or `sage materialize` adding its partition) each file
it carries is observed with its size, row count and SHA-256, so the asset graph's first nodes
say what came in before any table is written.
"""

from __future__ import annotations

import hashlib
import zipfile
from typing import Any

from dagster import AssetObservation, DagsterInstance, MetadataValue

from sage_pipelines.casilla.model import SageYaml
from sage_pipelines.casilla.readers import UploadMember, read_member, upload_members
from sage_pipelines.errors import SageError
from sage_pipelines.materialization.casillas import load_casilla
from sage_pipelines.orchestration.naming import catalog_key
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope

CHUNK = 1 << 20


def checksum(member: UploadMember) -> str:
    """SHA-256 of the file's bytes (of the member itself when it sits in a ZIP package)."""
    digest = hashlib.sha256()
    if member.member is None:
        with open(member.path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
    else:
        with zipfile.ZipFile(member.path) as package, package.open(member.member) as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def row_count(member: UploadMember) -> int | None:
    """The rows the casilla's reader finds (None when it cannot read the file: the run will say why)."""
    try:
        return sum(batch.num_rows for batch in read_member(member))
    except SageError:
        return None


def observe_upload(home: SageHome, sage: SageYaml, casilla: str, upload_id: str) -> list[AssetObservation]:
    """One observation per catalog file the upload carries, as a partition of its source asset."""
    observations = []
    for member in upload_members(sage, home.upload_dir(casilla, upload_id)):
        metadata: dict[str, Any] = {
            "file": MetadataValue.text(member.name),
            "bytes": MetadataValue.int(member.size),
            "sha256": MetadataValue.text(checksum(member)),
        }
        rows = row_count(member)
        if rows is not None:
            metadata["dagster/row_count"] = MetadataValue.int(rows)
        observations.append(AssetObservation(asset_key=catalog_key(casilla, member.catalog.key),
                                             partition=upload_id, metadata=metadata))
    return observations


def observe_uploads(home: SageHome, casilla: str, upload_ids: list[str]) -> list[AssetObservation]:
    """`observe_upload` for each of a casilla's new uploads (the casilla's SAGE YAML read once)."""
    if not upload_ids:
        return []
    with session_scope(home) as session:
        _, sage = load_casilla(session, casilla)
    return [o for upload_id in upload_ids for o in observe_upload(home, sage, casilla, upload_id)]


def report_landed(instance: DagsterInstance, home: SageHome, casilla: str, upload_id: str) -> None:
    """Record the observations of an upload that just got its partition, outside any run (the
    in-process and queued paths; the landing sensor returns them in its result instead)."""
    for observation in observe_uploads(home, casilla, [upload_id]):
        instance.report_runless_asset_event(observation)
