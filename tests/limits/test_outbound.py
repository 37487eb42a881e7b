"""Outbound quotas per backend: the gateway stops before the provider's own 429, moving to
another target or refusing with the quota named."""

from __future__ import annotations

import httpx

from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread
from tripoint.config import parse_settings

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def settings(upstream_url: str, targets: str) -> str:
    return f"""
backends:
  saas: {{type: openai, base_url: {upstream_url}}}
  spare: {{type: openai, base_url: {upstream_url}}}
models:
  m: {{targets: {targets}}}
limits:
  backends:
    saas: {{requests_per_minute: 2}}
"""


def test_exhausted_backend_quota_moves_to_the_next_target(upstream: FakeOpenAI) -> None:
    config = settings(upstream.base_url, "[{backend: saas, model: a}, {backend: spare, model: b}]")
    server = GatewayThread(parse_settings(config)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            served = [
                http.post("/v1/chat/completions", json=BODY).headers["x-tripoint-backend"]
                for _ in range(4)
            ]
    finally:
        server.stop()

    assert served == ["saas", "saas", "spare", "spare"]
    assert [c.body["model"] for c in upstream.calls] == ["a", "a", "b", "b"]


def test_exhausted_quota_without_another_target_is_refused_before_the_provider(
    upstream: FakeOpenAI,
) -> None:
    server = GatewayThread(
        parse_settings(settings(upstream.base_url, "[{backend: saas, model: a}]"))
    ).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            responses = [http.post("/v1/chat/completions", json=BODY) for _ in range(3)]
    finally:
        server.stop()

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert "'saas' is at its requests_per_minute quota" in responses[2].json()["error"]["message"]
    assert int(responses[2].headers["retry-after"]) >= 1
    assert len(upstream.calls) == 2
