"""The settings every lake format takes: a warehouse URI and storage options in one neutral
vocabulary (translated for each library by `lake.storage`), credentials from the lake's secret
read at use time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sage_pipelines.destinations.base import LakeSettings

STORAGE_OPTIONS: dict[str, str] = {
    "access_key_id": "S3 access key (from the lake's secret)",
    "secret_access_key": "S3 secret key (from the lake's secret)",
    "session_token": "S3 session token",
    "region": "S3 region",
    "endpoint": "S3 endpoint URL (MinIO, Ceph, ...); http:// allows plain HTTP",
}


@dataclass(frozen=True)
class LakeStorageSettings:
    """A lake warehouse: `file:///path` (or a plain path) or `s3://bucket/prefix`, with the
    storage options above (a key in a library's own spelling, `s3.*` for pyiceberg or
    upper-case for deltalake, passes through to that library)."""

    OPTIONS: ClassVar[dict[str, str]] = STORAGE_OPTIONS

    warehouse: str
    name: str = ""

    @classmethod
    def of(cls, settings: LakeSettings) -> "LakeStorageSettings":
        return cls(settings.warehouse, settings.name)
