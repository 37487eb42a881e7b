"""JWT/OIDC bearer tokens: signature against a JWKS URL (cached, kid rotation) or static keys,
`iss`/`aud`/`exp`/`nbf` checked, claims mapped to a team and a role."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.auth.conftest import DATABASES, AuthGateway, Secrets, auth_settings, database_dsn
from tests.fakes.jwks_server import JwksServer, SigningKey, claims
from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread
from tripoint.auth.jwks import JwksKeys
from tripoint.auth.roles import Role
from tripoint.auth.tokens import TokenVerifier
from tripoint.config.schema import JwtSettings
from tripoint.errors import AuthenticationError, ServiceUnavailableError

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer(SigningKey("k1")).start()
    yield server
    server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(jwks: JwksServer, clock: Clock | None = None, **settings: object) -> TokenVerifier:
    config = JwtSettings(
        issuer="https://idp.test",
        audience="tripoint",
        jwks_url=jwks.url,
        **settings,  # type: ignore[arg-type]
    )
    keys = JwksKeys(config, clock=clock or Clock())
    return TokenVerifier(config, keys)


async def test_verifies_a_token_and_maps_its_claims(jwks: JwksServer) -> None:
    tokens = verifier(jwks, role_map={"ml-admins": "team_admin"})
    token = jwks.keys[0].sign(claims(team="ml", role=["engineers", "ml-admins"]))

    verified = await tokens.verify(token)
    await tokens.close()

    assert (verified.subject, verified.team, verified.role) == ("alice", "ml", Role.TEAM_ADMIN)


@pytest.mark.parametrize(
    "bad",
    [
        claims(iss="https://evil.test"),
        claims(aud="someone-else"),
        claims(exp=int(time.time()) - 3600),
        claims(nbf=int(time.time()) + 3600),
        claims(exp=None),
        claims(sub=None),
        claims(role="emperor"),
    ],
    ids=["iss", "aud", "exp", "nbf", "no-exp", "no-sub", "unknown-role"],
)
async def test_rejects_tokens_with_bad_claims(jwks: JwksServer, bad: dict[str, object]) -> None:
    tokens = verifier(jwks)

    with pytest.raises(AuthenticationError):
        await tokens.verify(jwks.keys[0].sign(bad))
    await tokens.close()


async def test_rejects_a_token_signed_by_a_key_not_in_the_set(jwks: JwksServer) -> None:
    tokens = verifier(jwks)
    forged = SigningKey("k1").sign(claims())  # same kid, other key

    with pytest.raises(AuthenticationError):
        await tokens.verify(forged)
    await tokens.close()


async def test_rejects_unsigned_tokens(jwks: JwksServer) -> None:
    import jwt as pyjwt

    tokens = verifier(jwks)
    unsigned = pyjwt.encode(claims(), None, algorithm="none", headers={"kid": "k1"})

    with pytest.raises(AuthenticationError):
        await tokens.verify(unsigned)
    await tokens.close()


async def test_jwks_is_cached_then_refetched_for_a_rotated_kid(jwks: JwksServer) -> None:
    clock = Clock()
    tokens = verifier(jwks, clock, jwks_min_refresh=10)
    await tokens.verify(jwks.keys[0].sign(claims()))
    await tokens.verify(jwks.keys[0].sign(claims()))
    assert jwks.fetches == 1

    jwks.keys.append(SigningKey("k2"))  # the IdP rotates
    clock.now += 11
    verified = await tokens.verify(jwks.keys[1].sign(claims(sub="bob")))

    assert verified.subject == "bob"
    assert jwks.fetches == 2
    await tokens.close()


async def test_unknown_kids_cannot_flood_the_identity_provider(jwks: JwksServer) -> None:
    clock = Clock()
    tokens = verifier(jwks, clock, jwks_min_refresh=10)
    await tokens.verify(jwks.keys[0].sign(claims()))

    for number in range(20):
        with pytest.raises(AuthenticationError):
            await tokens.verify(SigningKey(f"forged-{number}").sign(claims()))

    assert jwks.fetches == 1
    await tokens.close()


async def test_keeps_the_last_good_keys_when_the_jwks_url_fails(jwks: JwksServer) -> None:
    clock = Clock()
    tokens = verifier(jwks, clock, jwks_cache_ttl=60)
    await tokens.verify(jwks.keys[0].sign(claims()))

    jwks.failing = True
    clock.now += 61

    assert (await tokens.verify(jwks.keys[0].sign(claims()))).subject == "alice"
    await tokens.close()


async def test_no_keys_at_all_is_503_not_401(jwks: JwksServer) -> None:
    jwks.failing = True
    tokens = verifier(jwks)

    with pytest.raises(ServiceUnavailableError):
        await tokens.verify(jwks.keys[0].sign(claims()))
    await tokens.close()


# end to end through the gateway --------------------------------------------------------------
@pytest.fixture(params=DATABASES)
def jwt_gateway(
    jwks: JwksServer, fake_openai: FakeOpenAI, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[AuthGateway]:
    extra = f"""
  jwt:
    issuer: https://idp.test
    audience: tripoint
    jwks_url: {jwks.url}
    role_map: {{platform-admins: admin}}
"""
    secret = Secrets(dsn=database_dsn(request.param, request, tmp_path))
    server = GatewayThread(auth_settings(fake_openai.base_url, secret, tmp_path, extra)).start()
    gateway = AuthGateway(server, secret, request.param)
    yield gateway
    gateway.session.close()
    server.stop()


def test_a_jwt_caller_uses_its_team_models_through_the_openai_sdk(
    jwt_gateway: AuthGateway, jwks: JwksServer
) -> None:
    team = jwt_gateway.team(models=["chat-premium"], name="research")
    token = jwks.keys[0].sign(claims(team="research", role="member"))
    client = jwt_gateway.client(token)

    answer = client.chat.completions.create(model="chat-premium", messages=HELLO)

    assert answer.choices[0].message.content
    assert [m.id for m in client.models.list()] == ["chat-premium"]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="chat-default", messages=HELLO)
    assert jwt_gateway.ok("GET", "/whoami", key=token)["team_id"] == team["id"]


def test_a_jwt_naming_an_unknown_team_is_refused(
    jwt_gateway: AuthGateway, jwks: JwksServer
) -> None:
    token = jwks.keys[0].sign(claims(team="no-such-team"))

    with pytest.raises(openai.AuthenticationError):
        jwt_gateway.client(token).models.list()


def test_an_idp_group_maps_to_the_admin_role(jwt_gateway: AuthGateway, jwks: JwksServer) -> None:
    token = jwks.keys[0].sign(claims(role=["staff", "platform-admins"]))

    org = jwt_gateway.ok("POST", "/orgs", key=token, json={"name": "made-by-jwt"})

    audit = jwt_gateway.ok("GET", "/audit", params={"target_id": org["id"]})["data"]
    assert [(e["actor"], e["action"]) for e in audit] == [("jwt:alice", "org.create")]


def test_a_jwt_naming_a_deleted_team_is_refused_at_once(
    jwt_gateway: AuthGateway, jwks: JwksServer
) -> None:
    team = jwt_gateway.team(name="sunset")
    token = jwks.keys[0].sign(claims(team="sunset", role="member"))
    assert [m.id for m in jwt_gateway.client(token).models.list()]

    jwt_gateway.ok("DELETE", f"/teams/{team['id']}")

    with pytest.raises(openai.AuthenticationError):
        jwt_gateway.client(token).models.list()
