"""Upstream failures before the answer starts are proper HTTP errors, streamed or not."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import gateway_settings
from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def quick(fake_openai: FakeOpenAI) -> Iterator[httpx.Client]:
    server = GatewayThread(gateway_settings(fake_openai.base_url, first_byte=0.5)).start()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http
    server.stop()


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("upstream_status", "status", "error_type"),
    [
        (400, 400, "invalid_request_error"),
        (422, 400, "invalid_request_error"),
        (401, 502, "upstream_error"),
        (429, 429, "rate_limit_exceeded"),
        (500, 502, "upstream_error"),
        (503, 502, "upstream_error"),
        (504, 504, "upstream_timeout"),
    ],
)
def test_upstream_status_maps_to_a_client_error(
    http: httpx.Client,
    upstream: FakeOpenAI,
    upstream_status: int,
    status: int,
    error_type: str,
    *,
    stream: bool,
) -> None:
    upstream.always(status=upstream_status, headers={"Retry-After": "7"})

    response = http.post(
        "/v1/chat/completions",
        json={"model": "chat-default", "messages": MESSAGES, "stream": stream},
    )

    assert response.status_code == status
    assert response.json()["error"]["type"] == error_type
    if upstream_status == 429:
        assert response.headers["retry-after"] == "7"


def test_upstream_rejection_message_reaches_the_client(
    http: httpx.Client, upstream: FakeOpenAI
) -> None:
    upstream.always(status=400)

    response = http.post(
        "/v1/chat/completions", json={"model": "chat-default", "messages": MESSAGES}
    )

    assert response.json()["error"]["message"] == "scripted failure 400"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "text/html"),
        (b'{"choices": "not a list"}', "application/json"),
        (b'{"choices": [{"message": {"content": 5}}]}', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"", "application/json"),
    ],
)
def test_garbage_from_upstream_is_a_clean_502(
    http: httpx.Client, upstream: FakeOpenAI, body: bytes, content_type: str
) -> None:
    upstream.always(status=200, body=body, content_type=content_type)

    response = http.post(
        "/v1/chat/completions", json={"model": "chat-default", "messages": MESSAGES}
    )

    assert response.status_code == 502
    assert response.json()["error"]["type"] == "upstream_error"


def test_stream_request_answered_with_json_is_a_clean_502(
    http: httpx.Client, upstream: FakeOpenAI
) -> None:
    upstream.always(status=200, body=b'{"id": "x"}', content_type="application/json")

    response = http.post(
        "/v1/chat/completions", json={"model": "chat-default", "messages": MESSAGES, "stream": True}
    )

    assert response.status_code == 502


def test_unreachable_backend_is_a_502(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json={"model": "dead-only", "messages": MESSAGES})

    assert response.status_code == 502
    assert "unreachable" in response.json()["error"]["message"]


def test_slow_first_byte_times_out(quick: httpx.Client, upstream: FakeOpenAI) -> None:
    upstream.always(delay=3)
    started = time.monotonic()

    response = quick.post(
        "/v1/chat/completions", json={"model": "chat-default", "messages": MESSAGES}
    )

    assert response.status_code == 504
    assert time.monotonic() - started < 0.5 * 1.1 + 0.3
