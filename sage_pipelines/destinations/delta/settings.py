"""Delta's settings: the lake's warehouse and storage options (see `lake.settings`); a
deltalake storage option in its own upper-case spelling passes through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sage_pipelines.destinations.lake.settings import STORAGE_OPTIONS, LakeStorageSettings


@dataclass(frozen=True)
class DeltaSettings(LakeStorageSettings):
    OPTIONS: ClassVar[dict[str, str]] = {**STORAGE_OPTIONS, "AWS_*": "deltalake storage options, as given"}
