"""Shared by the energy tests: the embedded district at 60 min steps, loaded once (a module
that needs 30 min steps defines its own ``district``)."""

from __future__ import annotations

import pytest

from distributed_resource_optimization.energy.district import load_district


@pytest.fixture(scope="session")
def district():
    return load_district(resolution="60min")
