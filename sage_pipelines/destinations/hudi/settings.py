"""Hudi's settings: the lake's warehouse and storage options (see `lake.settings`; hudi-rs takes
the same object_store keys as deltalake), and how writers of one table take turns.

Option `hudi.lock`: `host` (the default for a `file://` warehouse: writers on this host take turns
on a file lock in the table's `.hoodie/.aux`) or `none` (the default for object stores, and the
choice for a `file://` warehouse that several hosts mount, where a file lock does not reach the
other hosts). Either way a commit that finds a newer completed instant it did not see is undone
and fails, saying to re-run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sage_pipelines.destinations.base import LakeSettings
from sage_pipelines.destinations.lake.settings import STORAGE_OPTIONS, LakeStorageSettings
from sage_pipelines.errors import ConfigError

LOCK_OPTION = "hudi.lock"
LOCKS = ("host", "none")


@dataclass(frozen=True)
class HudiSettings(LakeStorageSettings):
    OPTIONS: ClassVar[dict[str, str]] = {**STORAGE_OPTIONS, LOCK_OPTION: "host | none (see above)"}

    lock: str | None = None  # None: host for file://, none for object stores

    @classmethod
    def of(cls, settings: LakeSettings) -> "HudiSettings":
        lock = settings.options.get(LOCK_OPTION)
        if lock is not None and lock not in LOCKS:
            raise ConfigError(f"lake {settings.name!r}: option {LOCK_OPTION}={lock!r} is not one of {', '.join(LOCKS)}")
        return cls(settings.warehouse, settings.name, lock)
