"""A scriptable OpenAI-compatible upstream on a loopback port, speaking the real wire format.

It runs an aiohttp server in its own thread and event loop, so tests drive it from sync code,
the `openai` SDK, or another loop alike. By default it answers like OpenAI; a test scripts the
next answers (error status, delay, truncated or stalled stream) and reads back every call.
"""

from __future__ import annotations

import asyncio
import base64
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.app_thread import AppThread


@dataclass
class Script:
    """How to answer one request. Defaults give a normal OpenAI answer."""

    status: int = 200
    body: bytes | None = None  # a raw body replaces the generated one
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the response headers
    words: tuple[str, ...] = ("Hello", " from", " the", " fake", " upstream", "!")
    tool_call: tuple[str, str] | None = None  # (name, arguments) instead of text
    chunk_delay: float = 0.0  # between stream events
    truncate_after: int | None = None  # events sent before the connection is cut
    stall_after: int | None = None  # events sent before the upstream goes silent
    omit_done: bool = False


@dataclass
class Seen:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)  # when the request arrived
    ended: float | None = None  # when the answer was sent, or the client was seen gone
    answered: bool | None = None  # False: the client went away before the answer


class FakeOpenAI(AppThread):
    name = "fake-openai"

    def __init__(self) -> None:
        self.calls: list[Seen] = []
        self.scripts: list[Script] = []
        self.default = Script()
        self.cancelled = threading.Event()  # set when a client went away mid-answer

    # scripting -----------------------------------------------------------------------------
    def then(self, **fields: Any) -> FakeOpenAI:
        """Queue the script for the next unscripted request."""
        self.scripts.append(Script(**fields))
        return self

    def always(self, **fields: Any) -> FakeOpenAI:
        self.default = Script(**fields)
        return self

    def reset(self) -> None:
        self.calls.clear()
        self.scripts.clear()
        self.default = Script()
        self.cancelled.clear()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._handler(_chat))
        app.router.add_post("/v1/completions", self._handler(_completion))
        app.router.add_post("/v1/embeddings", self._embeddings)

    # answering -----------------------------------------------------------------------------
    async def _record(self, request: web.Request) -> tuple[dict[str, Any], Script]:
        body = orjson.loads(await request.read())
        seen = Seen(request.path, body, dict(request.headers))
        self.calls.append(seen)
        script = self.scripts.pop(0) if self.scripts else self.default
        seen.answered = True
        if script.delay and not await _sleep_unless_closed(request, script.delay):
            self.cancelled.set()
            seen.answered = False
        seen.ended = time.monotonic()
        return body, script

    def _handler(self, shape: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            body, script = await self._record(request)
            if script.status != 200 or script.body is not None:
                return web.Response(
                    status=script.status,
                    body=script.body if script.body is not None else _error(script.status),
                    content_type=script.content_type,
                    headers=script.headers,
                )
            if not body.get("stream"):
                return web.json_response(
                    shape(body, script, whole=True), dumps=_dumps, headers=script.headers
                )
            return await self._stream(request, body, script, shape)

        return handle

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        script: Script,
        shape: Callable[..., dict[str, Any]],
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        events = shape(body, script, whole=False)["events"]
        try:
            for number, event in enumerate(events):
                if script.truncate_after is not None and number == script.truncate_after:
                    assert request.transport is not None
                    request.transport.close()  # cut mid-answer: no terminating chunk
                    return response
                if script.stall_after is not None and number == script.stall_after:
                    await _until_closed(request)  # silent, until the client goes away
                    self.cancelled.set()
                    return response
                await response.write(b"data: " + orjson.dumps(event) + b"\n\n")
                if script.chunk_delay:
                    await asyncio.sleep(script.chunk_delay)
            if not script.omit_done:
                await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except (asyncio.CancelledError, ConnectionResetError):
            self.cancelled.set()
            raise
        return response

    async def _embeddings(self, request: web.Request) -> web.Response:
        body, script = await self._record(request)
        if script.status != 200:
            return web.Response(
                status=script.status, body=_error(script.status), content_type="application/json"
            )
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = [[float(len(str(x))), 0.5, -0.25] for x in inputs]
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": _base64(vector) if as_base64 else vector,
            }
            for i, vector in enumerate(vectors)
        ]
        tokens = sum(len(str(x).split()) for x in inputs)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            dumps=_dumps,
        )


async def _sleep_unless_closed(request: web.Request, seconds: float) -> bool:
    """Sleep like a slow model; False when the client went away meanwhile."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if request.transport is None or request.transport.is_closing():
            return False
        await asyncio.sleep(0.01)
    return True


async def _until_closed(request: web.Request) -> None:
    while request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


def _base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _error(status: int) -> bytes:
    return orjson.dumps(
        {
            "error": {
                "message": f"scripted failure {status}",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
    )


def _usage(body: dict[str, Any], script: Script) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", [])) or len(
        str(body.get("prompt", "")).split()
    )
    completion = len(script.words)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chat(body: dict[str, Any], script: Script, *, whole: bool) -> dict[str, Any]:
    created = int(time.time())
    base = {
        "id": "chatcmpl-fake",
        "created": created,
        "model": body["model"],
        "system_fingerprint": "fp_fake",
    }
    if whole:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(script.words)}
        finish = "stop"
        if script.tool_call:
            name, arguments = script.tool_call
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    }
                ],
            }
            finish = "tool_calls"
        return {
            **base,
            "object": "chat.completion",
            "usage": _usage(body, script),
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
        }
    events: list[dict[str, Any]] = []

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            **base,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    events.append(chunk({"role": "assistant", "content": ""}))
    if script.tool_call:
        name, arguments = script.tool_call
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        half = len(arguments) // 2
        events.extend(
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            for piece in (arguments[:half], arguments[half:])
        )
        events.append(chunk({}, "tool_calls"))
    else:
        events.extend(chunk({"content": word}) for word in script.words)
        events.append(chunk({}, "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append(
            {
                **base,
                "object": "chat.completion.chunk",
                "choices": [],
                "usage": _usage(body, script),
            }
        )
    return {"events": events}


def _completion(body: dict[str, Any], script: Script, *, whole: bool) -> dict[str, Any]:
    base = {
        "id": "cmpl-fake",
        "object": "text_completion",
        "created": int(time.time()),
        "model": body["model"],
    }
    if whole:
        return {
            **base,
            "usage": _usage(body, script),
            "choices": [
                {
                    "index": 0,
                    "text": "".join(script.words),
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
        }
    events = [
        {**base, "choices": [{"index": 0, "text": w, "logprobs": None, "finish_reason": None}]}
        for w in script.words
    ]
    events.append(
        {**base, "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": "stop"}]}
    )
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append({**base, "choices": [], "usage": _usage(body, script)})
    return {"events": events}
