"""OIDC discovery: the JWKS is found through `{issuer}/.well-known/openid-configuration`, cached
and refreshed like the keys themselves; a document naming another issuer is never trusted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from tests.auth.conftest import AuthGateway, Secrets, auth_settings
from tests.fakes.jwks_server import JwksServer, SigningKey, claims
from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread
from tripoint.auth.discovery import discovery_url
from tripoint.auth.jwks import JwksKeys
from tripoint.auth.tokens import TokenVerifier
from tripoint.config.schema import JwtSettings
from tripoint.errors import AuthenticationError, ServiceUnavailableError

CHAT = {"model": "chat-default", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def idp() -> Iterator[JwksServer]:
    server = JwksServer(SigningKey("k1")).start()
    yield server
    server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def discovering(idp: JwksServer, clock: Clock, **settings: object) -> TokenVerifier:
    config = JwtSettings(issuer=idp.issuer, audience="tripoint", **settings)  # type: ignore[arg-type]
    return TokenVerifier(config, JwksKeys(config, clock=clock))


def token(idp: JwksServer, key: int = 0, **overrides: object) -> str:
    return idp.keys[key].sign(claims(iss=idp.issuer, **overrides))


async def test_finds_the_jwks_through_the_issuers_discovery_document(idp: JwksServer) -> None:
    tokens = discovering(idp, Clock())

    first = await tokens.verify(token(idp))
    second = await tokens.verify(token(idp, sub="bob"))
    await tokens.close()

    assert (first.subject, second.subject) == ("alice", "bob")
    assert (idp.discoveries, idp.fetches) == (1, 1)  # both documents cached


async def test_a_rotated_kid_refetches_the_keys_not_the_discovery_document(
    idp: JwksServer,
) -> None:
    clock = Clock()
    tokens = discovering(idp, clock, jwks_min_refresh=10, jwks_cache_ttl=300)
    await tokens.verify(token(idp))

    idp.keys.append(SigningKey("k2"))
    clock.now += 11
    verified = await tokens.verify(token(idp, key=1, sub="bob"))
    await tokens.close()

    assert verified.subject == "bob"
    assert (idp.discoveries, idp.fetches) == (1, 2)


async def test_a_moved_jwks_is_followed_once_the_discovery_document_is_stale(
    idp: JwksServer,
) -> None:
    clock = Clock()
    tokens = discovering(idp, clock, jwks_cache_ttl=60)
    await tokens.verify(token(idp))

    idp.jwks_path = "/keys/v2"
    idp.keys = [SigningKey("k3")]  # the old path would still serve these too
    clock.now += 61
    verified = await tokens.verify(token(idp, sub="carol"))
    await tokens.close()

    assert verified.subject == "carol"
    assert idp.discoveries == 2


async def test_a_document_naming_another_issuer_is_refused(idp: JwksServer) -> None:
    idp.named_issuer = "https://evil.test"
    tokens = discovering(idp, Clock())

    with pytest.raises(ServiceUnavailableError):
        await tokens.verify(token(idp))
    await tokens.close()

    assert idp.fetches == 0  # the keys it points to were never fetched


async def test_a_changed_issuer_on_refresh_keeps_the_last_good_keys_only(
    idp: JwksServer,
) -> None:
    clock = Clock()
    tokens = discovering(idp, clock, jwks_cache_ttl=60, jwks_min_refresh=0)
    await tokens.verify(token(idp))

    idp.named_issuer = "https://evil.test"
    idp.keys.append(SigningKey("k2"))  # offered only through the untrusted document
    clock.now += 61
    still = await tokens.verify(token(idp))
    with pytest.raises(AuthenticationError):
        await tokens.verify(token(idp, key=1))
    await tokens.close()

    assert still.subject == "alice"
    assert idp.fetches == 1


async def test_a_failing_discovery_endpoint_with_no_keys_is_503_not_401(idp: JwksServer) -> None:
    idp.discovery_failing = True
    tokens = discovering(idp, Clock())

    with pytest.raises(ServiceUnavailableError):
        await tokens.verify(token(idp))
    await tokens.close()


async def test_a_failing_discovery_endpoint_keeps_the_last_good_keys(idp: JwksServer) -> None:
    clock = Clock()
    tokens = discovering(idp, clock, jwks_cache_ttl=60)
    await tokens.verify(token(idp))

    idp.discovery_failing = True
    clock.now += 61
    verified = await tokens.verify(token(idp))
    await tokens.close()

    assert verified.subject == "alice"
    assert idp.discoveries == 2


async def test_an_explicit_discovery_url_serves_an_issuer_that_is_not_its_origin(
    idp: JwksServer,
) -> None:
    idp.named_issuer = "https://idp.test"
    config = JwtSettings(
        issuer="https://idp.test",
        audience="tripoint",
        discovery_url=f"{idp.issuer}/.well-known/openid-configuration",  # type: ignore[arg-type]
    )
    tokens = TokenVerifier(config, JwksKeys(config, clock=Clock()))

    verified = await tokens.verify(idp.keys[0].sign(claims()))
    await tokens.close()

    assert verified.subject == "alice"


@pytest.mark.parametrize(
    ("issuer", "url"),
    [
        ("https://login.example.com", "https://login.example.com/.well-known/openid-configuration"),
        (
            "https://login.example.com/",
            "https://login.example.com/.well-known/openid-configuration",
        ),
        (
            "https://x.test/tenant/v2.0",
            "https://x.test/tenant/v2.0/.well-known/openid-configuration",
        ),
    ],
)
def test_the_discovery_url_is_the_issuer_without_its_trailing_slash(issuer: str, url: str) -> None:
    assert discovery_url(issuer) == url


@pytest.mark.parametrize(
    "fields",
    [
        {"issuer": "tripoint-idp"},  # nothing to discover from
        {"issuer": "https://idp.test", "jwks_url": "https://idp.test/k", "keys": [{"key": "x"}]},
        {
            "issuer": "https://idp.test",
            "jwks_url": "https://idp.test/k",
            "discovery_url": "https://idp.test/d",
        },
    ],
    ids=["issuer-not-a-url", "jwks-and-keys", "jwks-and-discovery"],
)
def test_key_sources_are_one_at_most(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        JwtSettings(audience="tripoint", **fields)  # type: ignore[arg-type]


# through the gateway -------------------------------------------------------------------------
@pytest.fixture
def discovering_gateway(
    idp: JwksServer, fake_openai: FakeOpenAI, tmp_path: Path
) -> Iterator[AuthGateway]:
    extra = f"""
  jwt:
    issuer: {idp.issuer}
    audience: tripoint
    jwks_min_refresh: 0
"""
    secret = Secrets(dsn=f"sqlite:///{tmp_path / 'tripoint.db'}")
    server = GatewayThread(auth_settings(fake_openai.base_url, secret, tmp_path, extra)).start()
    gateway = AuthGateway(server, secret, "sqlite")
    yield gateway
    gateway.session.close()
    server.stop()


def _chat(gateway: AuthGateway, credential: str) -> httpx.Response:
    return gateway.session.post(
        "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {credential}"}
    )


def test_a_discovering_gateway_serves_jwt_callers_and_503s_while_the_idp_is_down(
    discovering_gateway: AuthGateway, idp: JwksServer
) -> None:
    gw = discovering_gateway
    gw.team(name="research")
    admin = token(idp, role="admin")
    member = token(idp, team="research", role="member")
    idp.discovery_failing = True

    down = _chat(gw, member)
    api_key_meanwhile = gw.ok("GET", "/whoami")  # the bootstrap key needs no IdP
    idp.discovery_failing = False
    up = _chat(gw, member)
    forged = _chat(gw, SigningKey("k1").sign(claims(iss=idp.issuer, team="research")))

    assert down.status_code == 503
    assert down.json()["error"]["type"] == "service_unavailable"
    assert api_key_meanwhile["role"] == "admin"
    assert up.status_code == 200
    assert forged.status_code == 401
    assert gw.ok("GET", "/whoami", key=admin)["id"] == "jwt:alice"


async def test_a_down_identity_provider_is_asked_once_per_min_refresh_not_per_token(
    idp: JwksServer,
) -> None:
    clock = Clock()
    tokens = discovering(idp, clock, jwks_min_refresh=10)
    idp.discovery_failing = True

    for _ in range(20):
        with pytest.raises(ServiceUnavailableError):
            await tokens.verify(token(idp))
    asked_while_down = idp.discoveries
    idp.discovery_failing = False
    clock.now += 11
    verified = await tokens.verify(token(idp))
    await tokens.close()

    assert asked_while_down == 1
    assert verified.subject == "alice"
