"""Fault tests over real loopback sockets: retries, Retry-After, fallback, breakers,
timeouts, no retry after the request reached the upstream, admission under saturation."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import orjson
import pytest

from tests.fakes.fault_proxy import FaultProxy, blackhole
from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread
from tripoint.config import parse_settings

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@contextmanager
def gateway(yaml: str) -> Iterator[tuple[GatewayThread, httpx.Client]]:
    server = GatewayThread(parse_settings(yaml)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            yield server, http
    finally:
        server.stop()


def backend(name: str, url: str, extra: str = "") -> str:
    return f"""
  {name}:
    type: openai
    base_url: {url}
    pattern: self_hosted
    timeouts: {{connect: 0.5, first_byte: 1.0, idle: 1.0, total: 10}}
{extra}"""


@pytest.mark.parametrize("status", [500, 503, 429])
def test_retries_exactly_one_plus_n_times(upstream: FakeOpenAI, status: int) -> None:
    upstream.always(status=status)
    config = f"""
backends:{backend("a", upstream.base_url)}
models:
  m:
    targets: [{{backend: a, model: x}}]
    retry: {{attempts: 3, backoff: 0.01}}
"""
    with gateway(config) as (_, http):
        response = http.post("/v1/chat/completions", json=CHAT)

    assert response.status_code in (502, 429)
    assert len(upstream.calls) == 1 + 3


def test_retry_after_is_waited_for_then_the_retry_succeeds(upstream: FakeOpenAI) -> None:
    upstream.then(status=429, headers={"Retry-After": "1"})
    config = f"""
backends:{backend("a", upstream.base_url)}
models:
  m:
    targets: [{{backend: a, model: x}}]
    retry: {{attempts: 1, backoff: 0.01}}
"""
    with gateway(config) as (_, http):
        started = time.monotonic()
        response = http.post("/v1/chat/completions", json=CHAT)
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert len(upstream.calls) == 2
    assert elapsed >= 1.0


def test_a_retry_after_beyond_the_cap_is_returned_not_waited(upstream: FakeOpenAI) -> None:
    upstream.always(status=429, headers={"Retry-After": "120"})
    config = f"""
backends:{backend("a", upstream.base_url)}
models:
  m:
    targets: [{{backend: a, model: x}}]
    retry: {{attempts: 2, max_retry_after: 5}}
"""
    with gateway(config) as (_, http):
        started = time.monotonic()
        response = http.post("/v1/chat/completions", json=CHAT)

    assert response.status_code == 429
    assert response.headers["retry-after"] == "120"
    assert len(upstream.calls) == 1
    assert time.monotonic() - started < 2


def test_fallback_crosses_to_the_next_target_and_pattern(upstream: FakeOpenAI) -> None:
    server, fillers, port = blackhole()
    config = f"""
backends:{backend("gpu", f"http://127.0.0.1:{port}/v1")}
  saas:
    type: openai
    base_url: {upstream.base_url}
    pattern: saas
models:
  m:
    targets: [{{backend: gpu, model: x}}, {{backend: saas, model: y}}]
"""
    with gateway(config) as (_, http):
        started = time.monotonic()
        response = http.post("/v1/chat/completions", json=CHAT)
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.headers["x-tripoint-backend"] == "saas"
    assert upstream.calls[0].body["model"] == "y"
    assert elapsed < 0.5 * 1.1 + 0.5  # the blackholed connect gave up at its timeout
    server.close()
    for filler in fillers:
        filler.close()


def test_blackholed_connect_fails_within_its_timeout() -> None:
    server, fillers, port = blackhole()
    config = f"""
backends:{backend("gpu", f"http://127.0.0.1:{port}/v1")}
models:
  m: {{targets: [{{backend: gpu, model: x}}]}}
"""
    with gateway(config) as (_, http):
        started = time.monotonic()
        response = http.post("/v1/chat/completions", json=CHAT)
        elapsed = time.monotonic() - started

    assert response.status_code in (502, 504)
    assert 0.5 <= elapsed < 0.5 * 1.1 + 0.3
    server.close()
    for filler in fillers:
        filler.close()


def test_slow_first_byte_fails_within_its_timeout_and_closes_the_socket(
    upstream: FakeOpenAI,
) -> None:
    upstream.always(delay=5)
    config = f"""
backends:{backend("a", upstream.base_url)}
models:
  m: {{targets: [{{backend: a, model: x}}]}}
"""
    with gateway(config) as (_, http):
        started = time.monotonic()
        response = http.post("/v1/chat/completions", json=CHAT)
        elapsed = time.monotonic() - started

    assert response.status_code == 504
    assert 1.0 <= elapsed < 1.0 * 1.1 + 0.3
    assert upstream.cancelled.wait(2)  # the upstream saw its connection closed


def test_reset_after_the_request_reached_the_upstream_is_not_retried(
    upstream: FakeOpenAI,
) -> None:
    proxy = FaultProxy(
        int(upstream.base_url.split(":")[2].split("/")[0]), "reset_after_request"
    ).start()
    config = f"""
backends:{backend("a", proxy.base_url)}
models:
  m:
    targets: [{{backend: a, model: x}}]
    retry: {{attempts: 3, backoff: 0.01}}
"""
    with gateway(config) as (_, http):
        response = http.post("/v1/chat/completions", json=CHAT)
    proxy.stop()

    assert response.status_code == 502
    assert len(upstream.calls) == 1


def test_reset_after_send_is_retried_when_configured(upstream: FakeOpenAI) -> None:
    proxy = FaultProxy(
        int(upstream.base_url.split(":")[2].split("/")[0]), "reset_after_request"
    ).start()
    config = f"""
backends:{backend("a", proxy.base_url)}
models:
  m:
    targets: [{{backend: a, model: x}}]
    retry: {{attempts: 2, backoff: 0.01, retry_after_send: true}}
"""
    with gateway(config) as (_, http):
        response = http.post("/v1/chat/completions", json=CHAT)
    proxy.stop()

    assert response.status_code == 502
    assert len(upstream.calls) == 3


def test_mid_stream_failure_is_never_retried(upstream: FakeOpenAI) -> None:
    upstream.always(truncate_after=3)
    config = f"""
backends:{backend("a", upstream.base_url)}
models:
  m:
    targets: [{{backend: a, model: x}}]
    retry: {{attempts: 3}}
"""
    with (
        gateway(config) as (_, http),
        http.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as r,
    ):
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]

    assert '"error"' in lines[-1]
    assert "[DONE]" not in "".join(lines)
    assert len(upstream.calls) == 1


def test_breaker_opens_then_half_opens_after_cooldown(upstream: FakeOpenAI) -> None:
    upstream.always(status=500)
    config = f"""
backends:{backend("a", upstream.base_url, "    breaker: {failures: 3, cooldown: 1.0}")}
models:
  m: {{targets: [{{backend: a, model: x}}]}}
"""
    with gateway(config) as (_, http):
        statuses = [http.post("/v1/chat/completions", json=CHAT).status_code for _ in range(5)]
        calls_while_open = len(upstream.calls)
        detail = http.get("/readyz").json()["targets"]["a/x"]
        time.sleep(1.1)
        upstream.always()  # healthy again
        probe = http.post("/v1/chat/completions", json=CHAT)
        after = http.get("/readyz").json()["targets"]["a/x"]

    assert statuses == [502, 502, 502, 503, 503]
    assert calls_while_open == 3
    assert detail["breaker"] == "open"
    assert probe.status_code == 200
    assert after["breaker"] == "closed"


def test_saturated_self_hosted_target_queues_then_rejects(upstream: FakeOpenAI) -> None:
    upstream.always(delay=0.6)
    config = f"""
backends:{
        backend(
            "gpu",
            upstream.base_url,
            "    admission: {max_in_flight: 2, queue: 2, queue_timeout: 10}",
        )
    }
    timeouts: {{connect: 1, first_byte: 5, idle: 5, total: 10}}
models:
  m: {{targets: [{{backend: gpu, model: x}}]}}
"""
    config = config.replace(
        "    timeouts: {connect: 0.5, first_byte: 1.0, idle: 1.0, total: 10}\n", "", 1
    )
    with gateway(config) as (server, http):
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            responses = list(
                pool.map(lambda _: http.post("/v1/chat/completions", json=CHAT), range(6))
            )
        gate = server.gateway.fleet.gate("gpu")

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 200, 200, 503, 503]
    rejected = [r for r in responses if r.status_code == 503]
    assert all(int(r.headers["retry-after"]) >= 1 for r in rejected)
    assert len(upstream.calls) == 4
    assert gate is not None
    assert gate.in_flight == 0


def test_unhealthy_backend_is_routed_around(upstream: FakeOpenAI) -> None:
    config = f"""
backends:{
        backend(
            "sick", upstream.base_url, "    health: {path: /no-such-health-route, interval: 0.1}"
        )
    }{backend("well", upstream.base_url)}
models:
  m: {{targets: [{{backend: sick, model: x}}, {{backend: well, model: y}}]}}
"""
    with gateway(config) as (_, http):
        time.sleep(0.3)  # a few polls: the fake answers 404 on that path
        response = http.post("/v1/chat/completions", json=CHAT)

    assert response.headers["x-tripoint-backend"] == "well"
    assert [c.body["model"] for c in upstream.calls] == ["y"]


def test_overloaded_gateway_sheds_inference_but_not_health(upstream: FakeOpenAI) -> None:
    upstream.always(delay=0.5)
    config = f"""
routing: {{shedding: {{max_in_flight: 2}}}}
backends:{backend("a", upstream.base_url)}
models:
  m: {{targets: [{{backend: a, model: x}}]}}
"""
    with gateway(config) as (_, http), concurrent.futures.ThreadPoolExecutor(6) as pool:
        pending = [pool.submit(http.post, "/v1/chat/completions", json=CHAT) for _ in range(6)]
        time.sleep(0.2)
        health = http.get("/healthz")
        responses = [p.result() for p in pending]

    shed = [r for r in responses if r.status_code == 503]
    assert len(shed) == 4
    assert all(r.json()["error"]["code"] == "overloaded" for r in shed)
    assert all(r.headers["x-request-id"] for r in shed)
    assert health.status_code == 200


def test_cache_hit_is_marked_and_skips_the_upstream(upstream: FakeOpenAI) -> None:
    config = f"""
backends:{backend("a", upstream.base_url)}
models:
  m:
    targets: [{{backend: a, model: x}}]
    cache: {{enabled: true, ttl: 60}}
"""
    body = {**CHAT, "temperature": 0}
    with gateway(config) as (_, http):
        first = http.post("/v1/chat/completions", json=body)
        second = http.post("/v1/chat/completions", json=body)
        streamed = http.post("/v1/chat/completions", json={**body, "stream": True})

    assert "x-tripoint-cache" not in first.headers
    assert second.headers["x-tripoint-cache"] == "hit"
    assert second.json()["choices"] == first.json()["choices"]
    assert streamed.headers["x-tripoint-cache"] == "hit"
    events = [
        orjson.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")
    ]
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events) == (
        "Hello from the fake upstream!"
    )
    assert streamed.text.rstrip().endswith("data: [DONE]")
    assert len(upstream.calls) == 1
