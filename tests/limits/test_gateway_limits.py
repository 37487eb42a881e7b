"""Limits and budgets through the real gateway: exact under 200 concurrent requests, across
four replicas sharing Redis, through failures, and through a Redis outage."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.fakes.openai_upstream import FakeOpenAI
from tests.postgres import PostgresServer
from tests.processes import GatewayProcess
from tests.redis_server import RedisServer
from tests.servers import GatewayThread
from tripoint.cli import main
from tripoint.config import parse_settings

WORDS = tuple(f" w{i}" for i in range(10))  # 10 completion tokens = exactly $0.01 each
CENT_NANO = 10_000_000
BODY = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def config(upstream_url: str, limits: str) -> str:
    return f"""
backends:
  a:
    type: openai
    base_url: {upstream_url}
    timeouts: {{connect: 5, first_byte: 30, idle: 30, total: 60}}
models:
  m: {{targets: [{{backend: a, model: x}}]}}
limits:
  prices: {{x: {{input: "0", output: "1000"}}}}
{limits}
"""


async def fire(urls: list[str], count: int, body: dict[str, object] = BODY) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=400)) as http:
        return await asyncio.gather(
            *(
                http.post(urls[i % len(urls)] + "/v1/chat/completions", json=body)
                for i in range(count)
            )
        )


@pytest.fixture
def memory_gateway(upstream: FakeOpenAI) -> Iterator[GatewayThread]:
    upstream.always(words=WORDS)
    limits = "  defaults: {budget_usd_total: '1.00', requests_per_minute: 1000}"
    server = GatewayThread(parse_settings(config(upstream.base_url, limits))).start()
    yield server
    server.stop()


async def test_budget_admits_exactly_what_it_can_pay_for(memory_gateway: GatewayThread) -> None:
    responses = await fire([memory_gateway.url], 200)

    refused = [r for r in responses if r.status_code == 429]
    assert Counter(r.status_code for r in responses) == {200: 100, 429: 100}
    error = refused[0].json()["error"]
    assert error["code"] == "budget_exceeded"
    assert "budget_usd_total" in error["message"]


async def test_rate_limit_headers_and_refusal(upstream: FakeOpenAI) -> None:
    limits = "  defaults: {requests_per_minute: 3}"
    server = GatewayThread(parse_settings(config(upstream.base_url, limits))).start()
    try:
        responses = await fire([server.url], 4)
    finally:
        server.stop()

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 200, 429]
    ok = next(r for r in responses if r.status_code == 200)
    assert ok.headers["x-ratelimit-limit-requests"] == "3"
    assert int(ok.headers["x-ratelimit-remaining-requests"]) in (0, 1, 2)
    refused = next(r for r in responses if r.status_code == 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 61
    assert "requests_per_minute" in refused.json()["error"]["message"]


def ledger_by_status(gateway: GatewayProcess) -> dict[int, tuple[int, Decimal]]:
    """Calls and recorded cost per status, from the shared PostgreSQL ledger (the CLI)."""
    arguments = ["usage", "--group-by", "status", "--config", str(gateway.config_path)]
    result = CliRunner(env=gateway.extra_env).invoke(main, arguments)
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.strip().splitlines()[1:]]
    return {int(r[0]): (int(r[1]), Decimal(r[4])) for r in rows}


def spent_nano(redis_server: RedisServer) -> int:
    with redis_server.client() as client:
        return int(client.get("tp:user:anonymous:budget:total:spent") or 0)


def held_leases(redis_server: RedisServer) -> int:
    with redis_server.client() as client:
        return sum(client.zcard(k) for k in client.scan_iter("tp:*:exp"))


@pytest.fixture
def replicas(
    upstream: FakeOpenAI,
    redis_url: str,
    redis_server: RedisServer,
    postgres: PostgresServer,
    tmp_path: Path,
) -> Iterator[list[GatewayProcess]]:
    """Four gateway processes sharing Redis (limits) and PostgreSQL (the call ledger)."""
    upstream.always(words=WORDS)
    limits = """  store: {type: redis, url: env:TRIPOINT_TEST_REDIS, replicas: 4, timeout: 3}
  defaults: {budget_usd_total: '1.00'}
storage: {url: env:TRIPOINT_TEST_DSN}"""
    path = tmp_path / "tripoint.yaml"
    path.write_text(config(upstream.base_url, limits))
    env = {"TRIPOINT_TEST_REDIS": redis_url, "TRIPOINT_TEST_DSN": postgres.create_database()}
    gateways = [GatewayProcess(path, env).start() for _ in range(4)]
    for gateway in gateways:
        gateway.wait_ready()
    yield gateways
    for gateway in gateways:
        gateway.stop()


@pytest.mark.slow
async def test_four_replicas_share_one_budget_exactly(
    replicas: list[GatewayProcess], redis_server: RedisServer, upstream: FakeOpenAI
) -> None:
    responses = await fire([g.url for g in replicas], 200)

    ok = sum(r.status_code == 200 for r in responses)
    for gateway in replicas:
        gateway.stop()  # SIGTERM: each flushes its ledger records

    assert Counter(r.status_code for r in responses) == {200: 100, 429: 100}
    assert spent_nano(redis_server) == ok * CENT_NANO  # the budget's counter
    assert held_leases(redis_server) == 0
    ledger = await asyncio.to_thread(ledger_by_status, replicas[0])
    assert ledger[200] == (100, Decimal("1.000000000"))  # recorded spend = upstream usage
    assert ledger[429][0] == 100


@pytest.mark.slow
async def test_failed_calls_release_their_reservations(
    replicas: list[GatewayProcess], redis_server: RedisServer, upstream: FakeOpenAI
) -> None:
    for _ in range(25):
        upstream.then(status=500).then(words=WORDS)
    first = await fire([g.url for g in replicas], 50)
    upstream.always(words=WORDS)

    rest = await fire([g.url for g in replicas], 200)

    assert sum(r.status_code == 502 for r in first) == 25
    succeeded = sum(r.status_code == 200 for r in first + rest)
    assert succeeded == 100  # the failures cost nothing and held nothing
    assert spent_nano(redis_server) == 100 * CENT_NANO
    assert held_leases(redis_server) == 0


@pytest.mark.slow
async def test_redis_outage_fails_budgets_closed_and_recovers(
    replicas: list[GatewayProcess], redis_server: RedisServer
) -> None:
    before = await fire([g.url for g in replicas], 40)
    redis_server.kill()
    during = await fire([g.url for g in replicas], 40)
    redis_server.restart()
    await asyncio.sleep(0.5)
    after = await fire([g.url for g in replicas], 200)

    assert all(r.status_code == 200 for r in before)
    assert all(r.status_code == 503 for r in during)  # fail closed, never over budget
    assert sum(r.status_code == 200 for r in after) == 60  # the rest of the dollar, no more
    assert spent_nano(redis_server) == 100 * CENT_NANO  # nothing counted twice
    assert held_leases(redis_server) == 0


async def test_rate_limits_fall_back_to_the_local_share_when_redis_is_down(
    upstream: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = RedisServer()  # never started: nothing listens on its port
    monkeypatch.setenv("DEAD_REDIS", dead.url)
    limits = """  store: {type: redis, url: env:DEAD_REDIS, replicas: 2, timeout: 0.2}
  defaults: {requests_per_minute: 10}"""
    server = GatewayThread(parse_settings(config(upstream.base_url, limits))).start()
    try:
        responses = await fire([server.url], 8)
    finally:
        server.stop()

    assert sum(r.status_code == 200 for r in responses) == 5  # 10 / 2 replicas
    assert sum(r.status_code == 429 for r in responses) == 3
