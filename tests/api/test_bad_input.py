"""Malformed requests get a clean OpenAI-shaped 4xx and never reach an upstream."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.openai_upstream import FakeOpenAI

CHAT = "/v1/chat/completions"
OK_MESSAGES = [{"role": "user", "content": "hi"}]

CASES = [
    ("truncated json", CHAT, b'{"model": "chat-default", "messages": [', 400, None),
    ("empty body", CHAT, b"", 400, None),
    ("not an object", CHAT, b'[{"model": "chat-default"}]', 400, None),
    ("invalid utf-8", CHAT, b'{"model": "\xff\xfe"}', 400, None),
    ("missing model", CHAT, {"messages": OK_MESSAGES}, 400, "model"),
    ("missing messages", CHAT, {"model": "chat-default"}, 400, "messages"),
    ("empty messages", CHAT, {"model": "chat-default", "messages": []}, 400, "messages"),
    ("messages not a list", CHAT, {"model": "chat-default", "messages": "hi"}, 400, "messages"),
    (
        "unknown role",
        CHAT,
        {"model": "chat-default", "messages": [{"role": "boss"}]},
        400,
        "messages.0.role",
    ),
    ("model is a number", CHAT, {"model": 7, "messages": OK_MESSAGES}, 400, "model"),
    (
        "stream is a string",
        CHAT,
        {"model": "chat-default", "messages": OK_MESSAGES, "stream": "yes"},
        400,
        "stream",
    ),
    ("n is a string", CHAT, {"model": "chat-default", "messages": OK_MESSAGES, "n": "2"}, 400, "n"),
    (
        "max_tokens zero",
        CHAT,
        {"model": "chat-default", "messages": OK_MESSAGES, "max_tokens": 0},
        400,
        "max_tokens",
    ),
    (
        "max_tokens huge float",
        CHAT,
        b'{"model": "chat-default", "messages": [{"role": "user",'
        b' "content": "x"}], "max_tokens": 1e999}',
        400,
        None,
    ),
    (
        "temperature out of range",
        CHAT,
        {"model": "chat-default", "messages": OK_MESSAGES, "temperature": 5},
        400,
        "temperature",
    ),
    (
        "tool without function",
        CHAT,
        {"model": "chat-default", "messages": OK_MESSAGES, "tools": [{"type": "function"}]},
        400,
        None,
    ),
    (
        "deeply nested json",
        CHAT,
        b'{"model": "chat-default", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        400,
        None,
    ),
    ("unknown model", CHAT, {"model": "no-such-model", "messages": OK_MESSAGES}, 404, "model"),
    ("unknown embeddings model", "/v1/embeddings", {"model": "nope", "input": "x"}, 404, "model"),
    (
        "embeddings empty input",
        "/v1/embeddings",
        {"model": "embed-default", "input": ""},
        400,
        "input",
    ),
    (
        "embeddings empty list",
        "/v1/embeddings",
        {"model": "embed-default", "input": []},
        400,
        "input",
    ),
    ("completions without prompt", "/v1/completions", {"model": "chat-default"}, 400, "prompt"),
    (
        "embeddings model for chat",
        CHAT,
        {"model": "embed-default", "messages": OK_MESSAGES},
        404,
        "model",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "param"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_request_is_a_clean_error(
    http: httpx.Client,
    upstream: FakeOpenAI,
    path: str,
    body: bytes | dict[str, object],
    status: int,
    param: str | None,
) -> None:
    content = body if isinstance(body, bytes) else None
    json = body if isinstance(body, dict) else None

    response = http.post(path, content=content, json=json)

    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert "Traceback" not in response.text
    if param is not None:
        assert error["param"] == param
    assert upstream.calls == []
    assert response.headers["x-request-id"]


def test_oversize_body_is_413(http: httpx.Client, upstream: FakeOpenAI) -> None:
    big = {"model": "chat-default", "messages": [{"role": "user", "content": "x" * 70_000}]}

    response = http.post(CHAT, json=big)

    assert response.status_code == 413
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert upstream.calls == []


def test_oversize_chunked_body_without_length_is_413(
    http: httpx.Client, upstream: FakeOpenAI
) -> None:
    def body() -> object:
        yield b'{"model": "chat-default", "messages": [{"role": "user", "content": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}]}'

    response = http.post(CHAT, content=body())  # type: ignore[arg-type]

    assert response.status_code == 413
    assert upstream.calls == []


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", CHAT, 405), ("POST", "/v1/nothing-here", 404), ("DELETE", "/v1/models", 405)],
)
def test_unknown_routes_and_methods_use_the_envelope(
    http: httpx.Client, method: str, path: str, status: int
) -> None:
    response = http.request(method, path)

    assert response.status_code == status
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("hostile", ["x" * 500, "id with spaces", "<script>", "a;b"])
def test_hostile_request_id_is_replaced(http: httpx.Client, hostile: str) -> None:
    response = http.get("/healthz", headers={"x-request-id": hostile})

    assert response.headers["x-request-id"] != hostile
    assert len(response.headers["x-request-id"]) == 24
