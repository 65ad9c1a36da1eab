"""A real Prefect server on loopback, started once for the module that asks for it."""

from __future__ import annotations

import pytest
from servers import start_prefect_server


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory, module_spawn):
    """The server's URL, home and environment; it (its process group) is stopped after the module."""
    yield start_prefect_server(tmp_path_factory.mktemp("prefect-home"), module_spawn)
    module_spawn.stop()
