"""The `authenticate` and `authorize` pipeline stages, driven without the HTTP edge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event

from tests.auth.conftest import Secrets, auth_settings
from tests.fakes.openai_upstream import FakeOpenAI
from tripoint.auth.grants import Actor
from tripoint.auth.views import NewKey, NewOrg, NewTeam
from tripoint.errors import AuthenticationError, ModelNotFoundError
from tripoint.gateway import Gateway
from tripoint.gateway.assembly import assemble
from tripoint.pipeline.call import Principal
from tripoint.schema.chunks import ChatChunk
from tripoint.schema.requests import ChatRequest

ADMIN = Actor(Principal(id="test", role="admin", kind="cli"))


@pytest.fixture
async def gateway(fake_openai: FakeOpenAI, tmp_path: Path) -> AsyncIterator[Gateway]:
    secret = Secrets(dsn=f"sqlite:///{tmp_path}/t.db")
    gateway = assemble(auth_settings(fake_openai.base_url, secret, tmp_path, ttl=60))
    await gateway.start()
    yield gateway
    await gateway.close()


async def _key(gateway: Gateway, models: list[str] | None = None) -> str:
    assert gateway.identity is not None
    admin = gateway.identity.administration
    org = await admin.create_org(ADMIN, NewOrg(name="o"))
    team = await admin.create_team(ADMIN, NewTeam(org_id=org.id, name="t", models=models))
    return (await admin.create_key(ADMIN, NewKey(team_id=team.id))).key


def _chat(model: str = "chat-default") -> ChatRequest:
    return ChatRequest.model_validate(
        {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    )


async def test_a_call_entering_without_the_edge_is_authenticated_from_its_headers(
    gateway: Gateway, upstream: FakeOpenAI
) -> None:
    key = await _key(gateway)
    call = gateway.call(_chat(), headers={"authorization": f"Bearer {key}"})

    chunks = [c async for c in gateway.run(call)]

    text = "".join(
        choice.text or "" for c in chunks if isinstance(c, ChatChunk) for choice in c.choices
    )
    assert text == "Hello from the fake upstream!"


async def test_a_call_without_credentials_never_reaches_the_upstream(
    gateway: Gateway, upstream: FakeOpenAI
) -> None:
    with pytest.raises(AuthenticationError):
        [c async for c in gateway.run(gateway.call(_chat()))]

    assert upstream.calls == []


async def test_authorize_hides_models_outside_the_allowlist(
    gateway: Gateway, upstream: FakeOpenAI
) -> None:
    key = await _key(gateway, models=["chat-default"])
    call = gateway.call(_chat("chat-premium"), headers={"x-api-key": key})

    with pytest.raises(ModelNotFoundError):
        [c async for c in gateway.run(call)]
    assert upstream.calls == []


async def test_a_cached_key_costs_no_database_query(gateway: Gateway, upstream: FakeOpenAI) -> None:
    assert gateway.identity is not None
    key = await _key(gateway)
    headers = {"authorization": f"Bearer {key}"}
    await gateway.authenticate(headers)  # the one miss
    statements: list[str] = []
    event.listen(
        gateway.identity.database.engine.sync_engine,
        "before_cursor_execute",
        lambda *args: statements.append(args[2]),
    )

    for _ in range(100):
        principal = await gateway.authenticate(headers)
    gateway.identity.keys.clear()
    await gateway.authenticate(headers)

    assert principal.kind == "key"
    assert len(statements) == 1  # only after the cache was cleared
