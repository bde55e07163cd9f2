"""The unit tier: the domain, the renderer and the formats in this process, no servers. It
runs in seconds (`make test-unit`), so a test that needs PostgreSQL, Redis or a worker
belongs in tests/integration, and asking for one here fails."""
from __future__ import annotations

import pytest


def _no_servers() -> None:
    pytest.fail("unit tests use no servers: move this test to tests/integration")


@pytest.fixture(scope="session")
def database_url():
    _no_servers()


@pytest.fixture(scope="session")
def redis_url():
    _no_servers()


@pytest.fixture(autouse=True)
def no_worker_outlives_its_test():
    """No worker is started here, so none is looked for."""
    yield


@pytest.fixture(autouse=True)
def responses_match_openapi():
    """No test client is used here, so no response is checked."""
    yield
