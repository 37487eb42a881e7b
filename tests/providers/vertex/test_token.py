"""Google OAuth for Vertex: tokens from a signed JWT grant, shared, refreshed before expiry,
fetched off the event loop; the fake token endpoint verifies each grant's signature."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.fakes.vertex_upstream import FakeVertex, ServiceAccount
from tripoint.errors import UpstreamError
from tripoint.providers.vertex.token import GoogleOAuth


@pytest.fixture
def vertex(fake_vertex: FakeVertex) -> FakeVertex:
    fake_vertex.reset()
    return fake_vertex


def oauth(fake: FakeVertex, account: ServiceAccount | None = None) -> GoogleOAuth:
    key = (account or fake.account).key_file(fake.token_uri)
    return GoogleOAuth(SecretStr(key))


async def test_fetches_one_token_for_many_concurrent_requests(vertex: FakeVertex) -> None:
    auth = oauth(vertex)
    before = vertex.tokens_issued

    headers = await asyncio.gather(*(auth.headers("POST", "u", b"") for _ in range(20)))

    assert vertex.tokens_issued == before + 1
    assert len({h["Authorization"] for h in headers}) == 1
    assert headers[0]["Authorization"].startswith("Bearer ya29.fake-")


async def test_reuses_a_token_that_is_far_from_expiry(vertex: FakeVertex) -> None:
    auth = oauth(vertex)
    first = await auth.headers("POST", "u", b"")
    before = vertex.tokens_issued

    second = await auth.headers("POST", "u", b"")

    assert second == first
    assert vertex.tokens_issued == before


async def test_refreshes_a_token_before_it_expires(vertex: FakeVertex) -> None:
    vertex.token_lifetime = 200  # still valid, but inside google-auth's refresh margin
    auth = oauth(vertex)
    first = await auth.headers("POST", "u", b"")

    second = await auth.headers("POST", "u", b"")

    assert second != first
    assert vertex.token_rejections == []


async def test_a_key_google_does_not_know_is_refused(vertex: FakeVertex) -> None:
    stranger = ServiceAccount.generate()  # same account name, a key the endpoint never saw
    auth = oauth(vertex, stranger)

    with pytest.raises(UpstreamError, match="refused the credentials") as caught:
        await auth.headers("POST", "u", b"")

    assert caught.value.retryable is False
    assert "signature" in vertex.token_rejections[-1].lower()


async def test_uses_application_default_credentials_without_a_key(
    vertex: FakeVertex, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = tmp_path / "adc.json"
    key.write_text(vertex.account.key_file(vertex.token_uri))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    before = vertex.tokens_issued

    headers = await GoogleOAuth().headers("POST", "u", b"")

    assert headers["Authorization"].startswith("Bearer ya29.fake-")
    assert vertex.tokens_issued == before + 1


async def test_refreshing_does_not_block_the_event_loop(vertex: FakeVertex) -> None:
    vertex.token_delay = 0.4
    auth = oauth(vertex)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await auth.headers("POST", "u", b"")
    ticker.cancel()

    assert ticks >= 10  # a blocked loop would not have ticked at all while the token came


async def test_a_key_that_is_not_json_is_a_clear_error() -> None:
    auth = GoogleOAuth(SecretStr("-----BEGIN PRIVATE KEY-----"))

    with pytest.raises(UpstreamError, match="not JSON") as caught:
        await auth.headers("POST", "u", b"")

    assert caught.value.retryable is False


def test_never_shows_its_key(fake_vertex: FakeVertex) -> None:
    auth = oauth(fake_vertex)

    assert "PRIVATE KEY" not in repr(auth)
