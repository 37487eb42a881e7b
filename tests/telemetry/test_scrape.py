"""`/metrics` behind a bearer token, or on its own port away from the public one."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import gateway_settings
from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import free_port
from tests.telemetry.conftest import Observed, build_observed
from tripoint.config import parse_settings
from tripoint.config.schema import TelemetrySettings

HELLO = [{"role": "user", "content": "Hello"}]


def telemetry(yaml: str) -> TelemetrySettings:
    return parse_settings(yaml).telemetry


@pytest.fixture
def protected(upstream: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Iterator[Observed]:
    monkeypatch.setenv("METRICS_TOKEN", "scrape-token-1234")
    settings = telemetry("telemetry: {metrics: {token: 'env:METRICS_TOKEN'}}")
    server = build_observed(gateway_settings(upstream.base_url), settings)
    yield server
    server.thread.stop()


@pytest.fixture
def own_port(upstream: FakeOpenAI) -> Iterator[tuple[Observed, int]]:
    port = free_port()
    settings = telemetry(f"telemetry: {{metrics: {{port: {port}, path: /prom}}}}")
    server = build_observed(gateway_settings(upstream.base_url), settings)
    yield server, port
    server.thread.stop()


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "scrape-token-1234"])
def test_refuses_a_scrape_without_the_token(protected: Observed, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = httpx.get(protected.url + "/metrics", headers=headers, timeout=5)

    assert response.status_code == 401
    assert "tripoint_" not in response.text


def test_answers_a_scrape_with_the_token(protected: Observed, upstream: FakeOpenAI) -> None:
    protected.client.chat.completions.create(model="chat-default", messages=HELLO)

    metrics = protected.metrics(token="scrape-token-1234")

    assert sum(v for (name, _), v in metrics.items() if name == "tripoint_requests_total") == 1


def test_serves_metrics_on_its_own_port_and_not_on_the_public_one(
    own_port: tuple[Observed, int], upstream: FakeOpenAI
) -> None:
    observed, port = own_port
    observed.client.chat.completions.create(model="chat-default", messages=HELLO)

    public = httpx.get(observed.url + "/prom", timeout=5)
    private = httpx.get(f"http://127.0.0.1:{port}/prom", timeout=5)

    assert public.status_code == 404
    assert private.status_code == 200
    assert private.headers["content-type"].startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(private.text)}
    assert "tripoint_requests" in names


def test_no_metrics_route_when_disabled(upstream: FakeOpenAI) -> None:
    settings = telemetry("telemetry: {metrics: {enabled: false}}")
    server = build_observed(gateway_settings(upstream.base_url), settings)
    try:
        response = httpx.get(server.url + "/metrics", timeout=5)
    finally:
        server.thread.stop()

    assert response.status_code == 404
