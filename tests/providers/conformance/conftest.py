"""Fixtures of the conformance suite: the replay upstream and each case's real provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import TypeAdapter

from tests.fakes.replay_upstream import ReplayServer
from tests.providers.conformance.case import ProviderCase
from tests.providers.conformance.cases import all_cases
from tripoint.config.schema import Backend
from tripoint.providers.base import ChatProvider, Lifecycle
from tripoint.providers.registry import build_provider, facts_of
from tripoint.providers.target import Target

# short enough that the timeout tests are quick, long enough for a loaded CI machine
FAST_TIMEOUTS = {"connect": 2, "first_byte": 1.0, "idle": 1.0, "total": 10}


@pytest.fixture(scope="session")
def replay() -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    yield server
    server.stop()


@pytest.fixture(params=[pytest.param(c, id=c.name, marks=c.marks) for c in all_cases()])
def case(request: pytest.FixtureRequest) -> ProviderCase:
    chosen: ProviderCase = request.param
    return chosen


@pytest.fixture
def upstream(replay: ReplayServer, case: ProviderCase) -> Iterator[ReplayServer]:
    replay.reset()
    if case.prepare is not None:
        case.prepare(replay)
    yield replay
    replay.reset()


def backend_config(case: ProviderCase, url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    return TypeAdapter(Backend).validate_python({**case.backend(url), "timeouts": FAST_TIMEOUTS})


@pytest.fixture
async def provider(
    case: ProviderCase, upstream: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ChatProvider]:
    built = build_provider(case.name, backend_config(case, upstream.url, monkeypatch))
    assert isinstance(built, ChatProvider)
    assert isinstance(built, Lifecycle)
    await built.start()
    yield built
    await built.close()


@pytest.fixture
def target(case: ProviderCase, upstream: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> Target:
    return Target(facts_of(case.name, backend_config(case, upstream.url, monkeypatch)), case.model)
