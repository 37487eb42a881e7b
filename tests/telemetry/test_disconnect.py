"""A client that leaves mid-stream still gets its call recorded, as 499."""

from __future__ import annotations

import time

import httpx

from tests.fakes.openai_upstream import FakeOpenAI
from tests.telemetry.conftest import Observed


def test_records_a_client_that_disconnects_mid_stream(
    observed: Observed, upstream: FakeOpenAI
) -> None:
    upstream.then(chunk_delay=0.2)
    body = {
        "model": "chat-default",
        "stream": True,
        "messages": [{"role": "user", "content": "Hello"}],
    }

    with httpx.stream(
        "POST", observed.url + "/v1/chat/completions", json=body, timeout=5
    ) as response:
        request_id = response.headers["x-request-id"]
        next(response.iter_lines())

    deadline = time.monotonic() + 5
    while (record := observed.telemetry.recent.find(request_id)) is None:
        assert time.monotonic() < deadline, "the call was never recorded"
        time.sleep(0.02)
    assert (record.status, record.error_type) == (499, "client_disconnected")
    assert record.first_chunk_at is not None
    assert record.upstream[0].error_type == "cancelled"
    series = {
        "model": "chat-default",
        "operation": "chat",
        "backend": "fake",
        "pattern": "self_hosted",
        "status": "499",
    }
    assert observed.metrics()[("tripoint_requests_total", frozenset(series.items()))] == 1
