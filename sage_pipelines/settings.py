"""Where an installation keeps its state: everything lives under `$SAGE_HOME` (default `./.sage`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SageHome:
    root: Path

    @classmethod
    def from_env(cls) -> "SageHome":
        return cls(Path(os.environ.get("SAGE_HOME", ".sage")).resolve())

    @property
    def store_url(self) -> str:
        return os.environ.get("SAGE_STORE_URL") or f"sqlite:///{self.root / 'sage.db'}"

    @property
    def secret_key_path(self) -> Path:
        return self.root / "secret.key"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def executions(self) -> Path:
        """A SAGE installation's validated executions (`executions/<uuid>/`), read by a sensor."""
        return Path(os.environ.get("SAGE_EXECUTIONS_DIR", str(self.root / "executions")))

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def lake_path(self) -> Path:
        return self.root / "lake"

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME", str(self.root / "dagster")))

    def upload_dir(self, casilla: str, upload_id: str) -> Path:
        return self.landing / casilla / upload_id
