"""Limits and budgets set through the admin API, enforced by the real gateway (memory and
Redis stores) together with config limits: exact under 200 concurrent calls, effective at once
on the replica that set them, org limits shared across teams, and the role rules."""

from __future__ import annotations

import asyncio
import io
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
from click.testing import CliRunner

from tests.auth.conftest import AuthGateway, Secrets, auth_settings, auth_yaml
from tests.fakes.jwks_server import JwksServer, SigningKey, claims
from tests.fakes.openai_upstream import FakeOpenAI
from tests.redis_server import RedisServer
from tests.servers import GatewayThread
from tripoint.cli import main

WORDS = tuple(f" w{i}" for i in range(10))  # 10 completion tokens = exactly $0.01 a call
CENT_NANO = 10_000_000
LIMITS = """limits:
  prices: {upstream-chat: {input: "0", output: "1000"}}
  orgs: {acme: {budget_usd_total: "0.04"}}
  teams: {capped: {budget_usd_total: "0.03"}}
"""
REDIS = "  store: {type: redis, url: env:TRIPOINT_TEST_REDIS, timeout: 3}\n"


@pytest.fixture(scope="module", params=["memory", "redis"])
def limits_gateway(
    request: pytest.FixtureRequest,
    fake_openai: FakeOpenAI,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AuthGateway]:
    """A gateway with auth on (SQLite) and the limit counters in memory or in Redis."""
    directory = tmp_path_factory.mktemp("limits")
    secret = Secrets(dsn=f"sqlite:///{directory / 'tripoint.db'}")
    extra = LIMITS
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "redis":
            server: RedisServer = request.getfixturevalue("redis_server")
            patch.setenv("TRIPOINT_TEST_REDIS", server.url)
            extra += REDIS
        settings = auth_settings(fake_openai.base_url, secret, directory, extra=extra)
    thread = GatewayThread(settings).start()
    gateway = AuthGateway(thread, secret, request.param)
    yield gateway
    gateway.session.close()
    thread.stop()


@pytest.fixture
def gw(limits_gateway: AuthGateway, upstream: FakeOpenAI) -> AuthGateway:
    upstream.always(words=WORDS)
    return limits_gateway


async def call_many(gw: AuthGateway, keys: list[str], count: int) -> Counter[str]:
    """`count` chat calls at once through the openai SDK, spread over `keys`; outcomes counted
    as "ok" or the refusal's error code."""
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=400)) as http:
        clients = [
            openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=k, max_retries=0, http_client=http)
            for k in keys
        ]

        async def one(client: openai.AsyncOpenAI) -> str:
            try:
                await client.chat.completions.create(
                    model="chat-default",
                    max_tokens=10,
                    messages=[{"role": "user", "content": "hi"}],
                )
            except openai.APIStatusError as exc:
                return f"{exc.status_code} {exc.code}"
            return "ok"

        return Counter(
            await asyncio.gather(*(one(clients[i % len(clients)]) for i in range(count)))
        )


def set_limits(gw: AuthGateway, path: str, by: str | None = None, **limits: Any) -> Any:
    return gw.ok("PUT", f"{path}/limits", key=by, json=limits)


async def test_a_key_budget_set_over_the_admin_api_admits_exactly_what_it_pays_for(
    gw: AuthGateway, request: pytest.FixtureRequest
) -> None:
    key = gw.key(gw.team()["id"])
    set_limits(gw, f"/keys/{key['id']}", budget_usd_total="1.00")

    outcomes = await call_many(gw, [key["key"]], 200)

    assert outcomes == {"ok": 100, "429 budget_exceeded": 100}
    if gw.kind == "redis":  # counted in the shared store, settled to what was used
        server: RedisServer = request.getfixturevalue("redis_server")
        with server.client() as client:
            spent = client.get(f"tp:key:{key['id']}:budget:total:spent")
        assert int(spent or 0) == 100 * CENT_NANO


async def test_a_changed_budget_applies_at_once_and_keeps_what_was_spent(gw: AuthGateway) -> None:
    key = gw.key(gw.team()["id"])
    set_limits(gw, f"/keys/{key['id']}", budget_usd_total="0.02")
    first = await call_many(gw, [key["key"]], 4)

    set_limits(gw, f"/keys/{key['id']}", budget_usd_total="0.05")
    raised = await call_many(gw, [key["key"]], 6)
    gw.ok("DELETE", f"/keys/{key['id']}/limits")
    cleared = await call_many(gw, [key["key"]], 3)

    assert first == {"ok": 2, "429 budget_exceeded": 2}
    assert raised == {"ok": 3, "429 budget_exceeded": 3}  # $0.05 less the $0.02 already spent
    assert cleared == {"ok": 3}


def test_batch_lines_are_bound_by_the_submitting_keys_limits(gw: AuthGateway) -> None:
    key = gw.key(gw.team()["id"])
    set_limits(gw, f"/keys/{key['id']}", budget_usd_total="0.02")
    body = {
        "model": "chat-default",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
    }
    content = b"\n".join(
        orjson.dumps(
            {"custom_id": f"l{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}
        )
        for i in range(4)
    )
    client = gw.client(key["key"])

    uploaded = client.files.create(file=("in.jsonl", io.BytesIO(content)), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    deadline = time.monotonic() + 60
    while batch.status not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
        batch = client.batches.retrieve(batch.id)

    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 2)
    assert batch.error_file_id is not None
    errors = [
        orjson.loads(r) for r in client.files.content(batch.error_file_id).content.splitlines()
    ]
    assert {e["error"]["code"] for e in errors} == {"budget_exceeded"}


async def test_a_rotated_key_keeps_the_limits_set_on_the_old_one(gw: AuthGateway) -> None:
    key = gw.key(gw.team()["id"])
    set_limits(gw, f"/keys/{key['id']}", budget_usd_total="0.02", max_concurrent=4)

    rotated = gw.ok("POST", f"/keys/{key['id']}/rotate", json={"grace_seconds": 0})
    outcomes = await call_many(gw, [rotated["key"]], 4)

    assert gw.ok("GET", f"/keys/{rotated['id']}/limits")["max_concurrent"] == 4
    assert outcomes == {"ok": 2, "429 budget_exceeded": 2}  # its own counter starts afresh


async def test_config_and_admin_api_limits_both_apply(gw: AuthGateway) -> None:
    team = gw.team(name="capped")  # config: a $0.03 budget for team 'capped'
    key = gw.key(team["id"])
    set_limits(gw, f"/keys/{key['id']}", budget_usd_total="1.00", requests_per_minute=1000)

    outcomes = await call_many(gw, [key["key"]], 8)
    refusal = gw.http(key["key"]).post(
        "/v1/chat/completions",
        json={
            "model": "chat-default",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "x"}],
        },
    )

    assert outcomes == {"ok": 3, "429 budget_exceeded": 5}
    assert "team 'capped'" in refusal.json()["error"]["message"]


async def test_a_config_org_budget_is_shared_by_every_team_of_the_org(gw: AuthGateway) -> None:
    org = gw.ok("POST", "/orgs", json={"name": "acme"})  # config: $0.04 for org 'acme'
    teams = [gw.ok("POST", "/teams", json={"org_id": org["id"], "name": n}) for n in ("a1", "a2")]
    keys = [gw.key(t["id"])["key"] for t in teams]
    elsewhere = gw.key(gw.team()["id"])["key"]

    outcomes = await call_many(gw, keys, 10)
    other = await call_many(gw, [elsewhere], 5)

    assert outcomes == {"ok": 4, "429 budget_exceeded": 6}
    assert other == {"ok": 5}  # another org's team is not limited by it


async def test_org_limits_set_over_the_admin_api_apply_across_its_teams(gw: AuthGateway) -> None:
    org = gw.org()
    teams = [
        gw.ok("POST", "/teams", json={"org_id": org, "name": f"t-{secrets.token_hex(4)}"})
        for _ in range(3)
    ]
    keys = [gw.key(t["id"])["key"] for t in teams]
    set_limits(gw, f"/orgs/{org}", budget_usd_total="0.05")

    outcomes = await call_many(gw, keys, 12)

    assert outcomes == {"ok": 5, "429 budget_exceeded": 7}


async def test_team_and_user_limits_set_over_the_admin_api_apply(gw: AuthGateway) -> None:
    team = gw.team()
    user = gw.ok(
        "POST", "/users", json={"team_id": team["id"], "email": f"{secrets.token_hex(4)}@x.io"}
    )
    user_keys = [gw.key(team["id"], user_id=user["id"])["key"] for _ in range(2)]
    other_keys = [gw.key(team["id"])["key"] for _ in range(2)]
    set_limits(gw, f"/users/{user['id']}", budget_usd_total="0.02")
    set_limits(gw, f"/teams/{team['id']}", budget_usd_total="0.05")

    by_user = await call_many(gw, user_keys, 6)
    by_team = await call_many(gw, other_keys, 6)

    assert by_user == {"ok": 2, "429 budget_exceeded": 4}  # one budget for both of its keys
    assert by_team == {"ok": 3, "429 budget_exceeded": 3}  # the team's $0.05 less the user's


def test_limits_read_back_and_every_change_is_audited(gw: AuthGateway) -> None:
    key = gw.key(gw.team()["id"])

    stored = set_limits(gw, f"/keys/{key['id']}", requests_per_minute=60, budget_usd_per_day=2.5)
    read = gw.ok("GET", f"/keys/{key['id']}/limits")
    cleared = gw.ok("DELETE", f"/keys/{key['id']}/limits")
    audit = gw.ok("GET", f"/audit?target_id={key['id']}")["data"]

    assert read == stored
    assert (read["requests_per_minute"], read["budget_usd_per_day"]) == (60, "2.5")
    assert (read["updated_by"], read["updated_role"]) == ("bootstrap", "admin")
    assert cleared["requests_per_minute"] is None
    assert cleared["updated_at"] is None
    actions = [(e["action"], e["detail"]) for e in audit]
    assert actions[:2] == [
        ("limits.clear", {}),
        ("limits.set", {"requests_per_minute": "60", "budget_usd_per_day": "2.5"}),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"budget_usd_total": -1},
        {"budget_usd_total": "0.0000000001"},  # finer than a nano-dollar
        {"budget_usd_total": 10_000_000},  # beyond what the Redis store counts exactly
        {"requests_per_minute": 0},
        {"requests_per_minute": 1.5},
        {"rpm": 5},
    ],
)
def test_bad_limits_are_refused_with_422(gw: AuthGateway, body: dict[str, Any]) -> None:
    key = gw.key(gw.team()["id"])

    response = gw.admin("PUT", f"/keys/{key['id']}/limits", json=body)

    assert response.status_code == 422
    assert response.json()["error"]["param"] is not None


class TestRoles:
    """A team admin limits its own team's keys and users; orgs and teams are an admin's;
    another team's objects answer 404 exactly as missing ones."""

    @pytest.fixture
    def teams(self, gw: AuthGateway) -> dict[str, Any]:
        own, other = gw.team(), gw.team()
        return {
            "own": own,
            "other": other,
            "team_admin": gw.key(own["id"], role="team_admin")["key"],
            "member": gw.key(own["id"])["key"],
            "viewer": gw.key(own["id"], role="viewer")["key"],
            "own_key": gw.key(own["id"])["id"],
            "other_key": gw.key(other["id"])["id"],
            "admin_key": gw.key(None, role="admin")["id"],
        }

    def test_a_team_admin_limits_its_own_teams_keys(
        self, gw: AuthGateway, teams: dict[str, Any]
    ) -> None:
        answer = set_limits(
            gw, f"/keys/{teams['own_key']}", by=teams["team_admin"], max_concurrent=3
        )

        assert answer["max_concurrent"] == 3

    def test_limits_an_admin_set_bind_the_team_admin_too(
        self, gw: AuthGateway, teams: dict[str, Any]
    ) -> None:
        path = f"/keys/{teams['own_key']}/limits"
        set_limits(gw, f"/keys/{teams['own_key']}", budget_usd_per_day="1")

        raised = gw.admin("PUT", path, teams["team_admin"], json={"budget_usd_per_day": "100"})
        cleared = gw.admin("DELETE", path, teams["team_admin"])

        assert (raised.status_code, cleared.status_code) == (403, 403)
        assert gw.ok("GET", path, key=teams["team_admin"])["budget_usd_per_day"] == "1"

    def test_another_teams_key_answers_404_like_a_missing_one(
        self, gw: AuthGateway, teams: dict[str, Any]
    ) -> None:
        by = teams["team_admin"]

        other = gw.admin(
            "PUT", f"/keys/{teams['other_key']}/limits", by, json={"max_concurrent": 1}
        )
        missing = gw.admin("PUT", "/keys/key_nothing/limits", by, json={"max_concurrent": 1})
        read = gw.admin("GET", f"/keys/{teams['other_key']}/limits", by)
        admins = gw.admin(
            "PUT", f"/keys/{teams['admin_key']}/limits", by, json={"max_concurrent": 1}
        )

        assert (other.status_code, missing.status_code, read.status_code) == (404, 404, 404)
        assert other.json()["error"]["message"].replace(teams["other_key"], "ID") == missing.json()[
            "error"
        ]["message"].replace("key_nothing", "ID")
        assert admins.status_code == 404  # a team admin sees no team-less admin key

    @pytest.mark.parametrize(
        ("who", "path"),
        [
            ("team_admin", "/teams/{own}"),  # may not raise its own team's limits
            ("team_admin", "/orgs/{org}"),
            ("member", "/keys/{own_key}"),
            ("viewer", "/keys/{own_key}"),
        ],
    )
    def test_setting_limits_above_ones_role_is_403(
        self, gw: AuthGateway, teams: dict[str, Any], who: str, path: str
    ) -> None:
        target = path.format(
            own=teams["own"]["id"], org=teams["own"]["org_id"], own_key=teams["own_key"]
        )

        response = gw.admin("PUT", f"{target}/limits", teams[who], json={"requests_per_minute": 9})

        assert response.status_code == 403
        assert gw.ok("GET", f"{target}/limits")["requests_per_minute"] is None

    def test_a_viewer_reads_its_own_teams_limits(
        self, gw: AuthGateway, teams: dict[str, Any]
    ) -> None:
        set_limits(gw, f"/teams/{teams['own']['id']}", budget_usd_per_month="100")

        read = gw.ok("GET", f"/teams/{teams['own']['id']}/limits", key=teams["viewer"])
        other = gw.admin("GET", f"/teams/{teams['other']['id']}/limits", teams["viewer"])

        assert read["budget_usd_per_month"] == "100"
        assert other.status_code == 404


async def test_a_jwt_caller_is_bound_by_its_teams_and_orgs_stored_limits(
    upstream: FakeOpenAI, tmp_path: Path
) -> None:
    upstream.always(words=WORDS)
    jwks = JwksServer(SigningKey("k1")).start()
    extra = f"  jwt: {{issuer: https://idp.test, audience: tripoint, jwks_url: {jwks.url}}}\n"
    secret = Secrets(dsn=f"sqlite:///{tmp_path / 'tripoint.db'}")
    settings = auth_settings(upstream.base_url, secret, tmp_path, extra + LIMITS)
    thread = GatewayThread(settings).start()
    gw = AuthGateway(thread, secret, "sqlite")
    try:
        team = gw.team(name="jwt-team")
        set_limits(gw, f"/orgs/{team['org_id']}", budget_usd_total="0.03")
        set_limits(gw, f"/teams/{team['id']}", requests_per_minute=2)
        token = jwks.keys[0].sign(claims(team="jwt-team", role="member"))
        outcomes = await call_many(gw, [token], 4)
        set_limits(gw, f"/teams/{team['id']}", requests_per_minute=100)  # forgets cached grants
        later = await call_many(gw, [token], 4)
    finally:
        gw.session.close()
        thread.stop()
        jwks.stop()

    assert outcomes == {"ok": 2, "429 rate_limit_exceeded": 2}  # the team's RPM
    assert later == {"ok": 1, "429 budget_exceeded": 3}  # the org's $0.03, $0.02 spent


def test_the_cli_sets_limits_the_gateway_enforces(
    fake_openai: FakeOpenAI, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    upstream.always(words=WORDS)
    secret = Secrets(dsn=f"sqlite:///{tmp_path / 'tripoint.db'}")
    config = tmp_path / "tripoint.yaml"
    config.write_text(auth_yaml(fake_openai.base_url, tmp_path, LIMITS))
    thread = GatewayThread(auth_settings(fake_openai.base_url, secret, tmp_path, LIMITS)).start()
    gw = AuthGateway(thread, secret, "sqlite")
    try:
        team = gw.team()
        key = gw.key(team["id"])
        cli = CliRunner(env=secret.env())
        result = cli.invoke(
            main,
            [
                "limits",
                "set",
                "--team",
                team["name"],
                "--budget-usd-total",
                "0.02",
                "--config",
                str(config),
            ],
        )
        shown = cli.invoke(
            main, ["limits", "show", "--team", team["name"], "--config", str(config)]
        )
        both = cli.invoke(
            main, ["limits", "show", "--team", "x", "--key", "y", "--config", str(config)]
        )
        outcomes = asyncio.run(call_many(gw, [key["key"]], 4))  # the key loads after the CLI ran
    finally:
        gw.session.close()
        thread.stop()

    assert result.exit_code == 0, result.output
    assert '"budget_usd_total": "0.02"' in shown.output
    assert both.exit_code == 2
    assert outcomes == {"ok": 2, "429 budget_exceeded": 2}
