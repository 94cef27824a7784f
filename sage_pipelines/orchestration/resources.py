"""The installation's store as a Dagster resource: `SageStore`, configured by `EnvVar("SAGE_HOME")`.

Every part of the code location that reads or records something (the IO manager, the landing
sensor) asks this one resource for the home and a store session instead of carrying a raw path.
When the environment names the home (`SAGE_HOME`), the resource's config is the environment
variable itself, so the path is resolved where the step runs (a remote worker's own SAGE_HOME)
and never frozen into a run's config.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, Union

from dagster import ConfigurableResource, EnvVar
from pydantic import Field
from sqlalchemy.orm import Session

from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope

STORE_RESOURCE = "sage_store"  # its key in the Definitions


class SageStore(ConfigurableResource):
    """The SAGE installation a run works on: its home directory and its metadata store.

    Example::

        Definitions(assets=..., resources={"sage_store": SageStore(sage_home=EnvVar("SAGE_HOME"))})
    """

    sage_home: str = Field(description="The installation's SAGE_HOME directory (uploads under landing/, "
                                        "the store sage.db unless SAGE_STORE_URL points elsewhere). Set it "
                                        "with EnvVar(\"SAGE_HOME\") so each process resolves its own.")

    @property
    def home(self) -> SageHome:
        return SageHome(Path(self.sage_home).resolve())

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session on the store, committed on success."""
        with session_scope(self.home) as session:
            yield session


def home_config(home: SageHome) -> Union[str, EnvVar]:
    """`EnvVar("SAGE_HOME")` when the environment names this home, else its path."""
    env = os.environ.get("SAGE_HOME")
    if env and Path(env).resolve() == home.root:
        return EnvVar("SAGE_HOME")
    return str(home.root)


def store_resource(home: SageHome) -> SageStore:
    return SageStore(sage_home=home_config(home))
