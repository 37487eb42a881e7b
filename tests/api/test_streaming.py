"""Streaming done right: forwarded as it arrives, cancelled on disconnect, never a clean
finish on a truncated answer, `[DONE]` exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import orjson
import pytest

from tests.conftest import gateway_settings
from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread

BODY = {"model": "chat-default", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


def data_lines(http: httpx.Client, body: dict[str, object]) -> list[bytes]:
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        return [
            line.removeprefix("data: ").encode()
            for line in response.iter_lines()
            if line.startswith("data: ")
        ]


@pytest.fixture
def quick_timeouts(fake_openai: FakeOpenAI) -> Iterator[GatewayThread]:
    server = GatewayThread(gateway_settings(fake_openai.base_url, first_byte=0.5, idle=0.5))
    yield server.start()
    server.stop()


def test_done_is_sent_exactly_once_at_the_end(http: httpx.Client) -> None:
    lines = data_lines(http, BODY)

    assert lines.count(b"[DONE]") == 1
    assert lines[-1] == b"[DONE]"


def test_stream_headers_disable_buffering(http: httpx.Client) -> None:
    with http.stream("POST", "/v1/chat/completions", json=BODY) as response:
        response.read()

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["cache-control"] == "no-cache"


def test_chunks_are_forwarded_as_they_arrive(http: httpx.Client, upstream: FakeOpenAI) -> None:
    upstream.always(chunk_delay=0.3, words=("a", "b", "c"))
    arrivals: list[float] = []

    with http.stream("POST", "/v1/chat/completions", json=BODY) as response:
        for line in response.iter_lines():
            if '"content":"' in line and '"content":""' not in line:
                arrivals.append(time.monotonic())

    assert len(arrivals) == 3
    assert arrivals[1] - arrivals[0] > 0.2  # not buffered until the end
    assert arrivals[2] - arrivals[1] > 0.2


@pytest.mark.parametrize("script", [{"truncate_after": 3}, {"omit_done": True}])
def test_truncated_upstream_stream_ends_with_an_error_event(
    http: httpx.Client, upstream: FakeOpenAI, script: dict[str, object]
) -> None:
    upstream.always(**script)

    lines = data_lines(http, BODY)

    assert b"[DONE]" not in lines
    last = orjson.loads(lines[-1])
    assert last["error"]["type"] == "upstream_error"
    finishes = [c["choices"][0]["finish_reason"] for c in map(orjson.loads, lines[:-1])]
    assert "stop" not in finishes or script.get("omit_done")


def test_sdk_raises_on_a_truncated_stream(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.always(truncate_after=3)
    received: list[str] = []

    with pytest.raises(openai.APIError):  # noqa: PT012 -- the error comes mid-iteration
        for chunk in client.chat.completions.create(**BODY):  # type: ignore[call-overload]
            received.append(chunk.choices[0].delta.content or "")

    assert "".join(received) == "Hello from"


def test_client_disconnect_cancels_the_upstream_quickly(
    http: httpx.Client, upstream: FakeOpenAI
) -> None:
    upstream.always(stall_after=2)

    with http.stream("POST", "/v1/chat/completions", json=BODY) as response:
        first = next(response.iter_lines())
        assert first.startswith("data: ")
        disconnected = time.monotonic()
    # leaving the block closes the client connection mid-stream

    assert upstream.cancelled.wait(5)
    assert time.monotonic() - disconnected < 1.0


def test_stall_mid_stream_becomes_a_timeout_event(
    quick_timeouts: GatewayThread, upstream: FakeOpenAI
) -> None:
    upstream.always(stall_after=2)
    started = time.monotonic()

    with httpx.Client(base_url=quick_timeouts.url, timeout=10) as http:
        lines = data_lines(http, BODY)

    assert orjson.loads(lines[-1])["error"]["type"] == "upstream_timeout"
    assert time.monotonic() - started < 0.5 * 1.1 + 0.5
    assert upstream.cancelled.wait(2)


@pytest.mark.parametrize("stream", [False, True])
def test_disconnect_before_the_first_byte_cancels_the_upstream(
    http: httpx.Client, upstream: FakeOpenAI, *, stream: bool
) -> None:
    upstream.always(delay=5)

    with pytest.raises(httpx.ReadTimeout):
        http.post("/v1/chat/completions", json={**BODY, "stream": stream}, timeout=0.3)
    disconnected = time.monotonic()

    assert upstream.cancelled.wait(5)
    assert time.monotonic() - disconnected < 1.0
