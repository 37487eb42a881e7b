"""The cloud provider cases: one per backend type, each with its started provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.bedrock_upstream import FakeBedrock
from tests.fakes.vertex_upstream import FakeVertex
from tests.providers.cloud.bedrock_case import bedrock_case
from tests.providers.cloud.case import ProviderCase
from tests.providers.cloud.fakes import fake_bedrock, fake_vertex, secrets_dir, service_account
from tests.providers.cloud.vertex_case import vertex_case
from tripoint.providers.base import Lifecycle, Provider


@pytest.fixture(params=["bedrock", "vertex"])
def case(
    request: pytest.FixtureRequest,
    fake_bedrock: FakeBedrock,
    fake_vertex: FakeVertex,
    secrets_dir: Path,
) -> Iterator[ProviderCase]:
    built = (
        bedrock_case(fake_bedrock, secrets_dir)
        if request.param == "bedrock"
        else vertex_case(fake_vertex, secrets_dir)
    )
    built.fake.reset()
    yield built
    built.fake.reset()


@pytest.fixture
async def provider(case: ProviderCase) -> AsyncIterator[Provider]:
    built = case.provider()
    assert isinstance(built, Lifecycle)
    await built.start()
    yield built
    await built.close()


__all__ = ["fake_bedrock", "fake_vertex", "secrets_dir", "service_account"]
