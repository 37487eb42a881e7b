"""One JSON access line per call: ids and numbers, never a key, a prompt or a completion."""

from __future__ import annotations

import logging
import time

import httpx
import openai
import orjson
import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.telemetry.conftest import CLIENT_KEY, Observed
from tripoint.logs import JsonFormatter, mask_secret, redact

HELLO = [{"role": "user", "content": "Hello secret-prompt-text"}]


def access_lines(caplog: pytest.LogCaptureFixture, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [r for r in caplog.records if r.name == "tripoint.access"]
        if len(found) >= count:
            return [orjson.loads(JsonFormatter().format(r)) for r in found]
        time.sleep(0.01)
    raise AssertionError(f"expected {count} access lines")


def test_writes_one_line_per_call_with_its_outcome(
    observed: Observed, upstream: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tripoint.access")

    observed.client.chat.completions.create(model="chat-default", messages=HELLO)
    with pytest.raises(openai.NotFoundError):
        observed.client.chat.completions.create(model="nope", messages=HELLO)

    ok, missing = access_lines(caplog, 2)
    assert ok["msg"] == "call"
    assert {k: ok[k] for k in ("principal", "model", "backend", "pattern", "status")} == {
        "principal": "anonymous",
        "model": "chat-default",
        "backend": "fake",
        "pattern": "self_hosted",
        "status": 200,
    }
    assert (ok["input_tokens"], ok["output_tokens"], ok["attempts"]) == (2, 6, 1)
    assert isinstance(ok["latency_ms"], float)
    assert isinstance(ok["upstream_ms"], float)
    assert ok["latency_ms"] >= ok["upstream_ms"]
    assert isinstance(ok["request_id"], str)
    assert ok["request_id"]
    assert (missing["status"], missing["error_type"], missing["model"]) == (
        404,
        "invalid_request_error",
        "nope",
    )


def test_uses_the_request_id_the_client_sees(
    observed: Observed, upstream: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tripoint.access")

    response = httpx.post(
        observed.url + "/v1/chat/completions",
        json={"model": "chat-default", "messages": HELLO},
        headers={"x-request-id": "client-chosen-id-1"},
        timeout=5,
    )

    (line,) = access_lines(caplog, 1)
    assert response.headers["x-request-id"] == "client-chosen-id-1"
    assert line["request_id"] == "client-chosen-id-1"


def test_never_logs_the_key_the_prompt_or_the_completion(
    observed: Observed, upstream: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tripoint.access")

    observed.client.chat.completions.create(model="chat-default", messages=HELLO)

    (line,) = access_lines(caplog, 1)
    text = orjson.dumps(line).decode()
    assert CLIENT_KEY not in text
    assert "secret-prompt-text" not in text
    assert "fake upstream" not in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key sk-proj-abcdefghijkl9876 leaked", "key ...9876 leaked"),
        ("Authorization: Bearer abcdefghijklmnop1234", "Authorization: Bearer ...1234"),
        ("aws AKIAIOSFODNN7EXAMPLE here", "aws ...MPLE here"),
        ("request 601da90f03ded1d40a2e7cd5 done", "request 601da90f03ded1d40a2e7cd5 done"),
    ],
)
def test_masks_keys_to_their_last_four_characters(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_json_formatter_masks_secrets_in_messages_and_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "x", "msg": "using %s", "args": ("sk-abcdefgh12345678",), "levelname": "INFO"}
    )
    record.key = "tp-zzzzzzzzzzzz4321"

    line = orjson.loads(JsonFormatter().format(record))

    assert line["msg"] == "using ...5678"
    assert line["key"] == "...4321"
    assert mask_secret("abc") == "****"
