"""The Hudi destination: every scenario of the shared suite, read back with hudi-rs."""

from __future__ import annotations

import pytest

from sage_pipelines.destinations.base import LakeSettings
from sage_pipelines.destinations.hudi.destination import HudiDestination
from sage_pipelines_tests.destination_scenarios import DestinationScenarios


@pytest.fixture
def warehouse(tmp_path):
    return tmp_path / "lake"


@pytest.fixture
def destination(warehouse):
    return HudiDestination(LakeSettings(name="lake", warehouse=warehouse.as_uri(), format="hudi"))


@pytest.fixture
def namespace():
    return "ventas"


class TestHudiScenarios(DestinationScenarios):
    pass
