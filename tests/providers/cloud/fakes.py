"""Session fixtures for the cloud fakes, imported by the conftest of each test folder that
needs them (so no conftest above tests/providers/ has to know about them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.bedrock_upstream import FakeBedrock
from tests.fakes.vertex_upstream import FakeVertex, ServiceAccount


@pytest.fixture(scope="session")
def service_account() -> ServiceAccount:
    return ServiceAccount.generate()


@pytest.fixture(scope="session")
def fake_bedrock() -> Iterator[FakeBedrock]:
    server = FakeBedrock()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_vertex(service_account: ServiceAccount) -> Iterator[FakeVertex]:
    server = FakeVertex(service_account)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("secrets")
