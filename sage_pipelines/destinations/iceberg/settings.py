"""Iceberg's settings: the lake's warehouse and storage options, plus its catalog.

`catalog_uri` (`sage lakes add --catalog-uri`): none -> a SQLite catalog at
`<warehouse>/catalog.db` (file warehouses only); `sqlite:///...` or `postgresql://...` -> a SQL
catalog; `http(s)://...` -> a REST catalog. It may carry a password, so it never appears in a
message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sage_pipelines.destinations.base import LakeSettings
from sage_pipelines.destinations.lake.settings import STORAGE_OPTIONS, LakeStorageSettings


@dataclass(frozen=True)
class IcebergSettings(LakeStorageSettings):
    OPTIONS: ClassVar[dict[str, str]] = {**STORAGE_OPTIONS, "s3.*": "pyiceberg FileIO properties, as given"}

    catalog_uri: str | None = None

    @classmethod
    def of(cls, settings: LakeSettings) -> "IcebergSettings":
        return cls(settings.warehouse, settings.name, settings.catalog_uri)
