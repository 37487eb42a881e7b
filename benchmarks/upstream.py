"""The fast loopback upstream: canned OpenAI JSON and SSE from a raw asyncio Protocol.

It must never be the bottleneck, so it skips every framework: uvloop runs the loop, httptools
parses HTTP/1.1, and every answer is pre-rendered bytes. The model name in the request body
chooses the behaviour, so one process serves every scenario through one gateway config:

    bench-d{delay_ms}-e{events}[-i{interval_ms}]
        e.g. bench-d50-e32: 50 ms before the response head, then 32 content events when
        streamed, written back to back; with -i20, 20 ms apart (as a model emits tokens)

Run it on its own: `python -m benchmarks.upstream --port 9001`.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import cast

import httptools
import orjson
import uvloop

_MODEL = re.compile(r"bench-d(\d+)-e(\d+)(?:-i(\d+))?")
_CREATED = 1_700_000_000
_MODELS = (
    b'{"object":"list","data":[{"id":"bench-d0-e32","object":"model",'
    b'"created":1700000000,"owned_by":"bench"}]}'
)


@dataclass(frozen=True, slots=True)
class Behaviour:
    delay: float  # seconds before the response headers (the model "thinking")
    events: int  # content events in a streamed answer
    interval: float = 0.0  # seconds between two streamed events


def behaviour_of(model: str) -> Behaviour:
    match = _MODEL.fullmatch(model)
    if match is None:
        return Behaviour(delay=0.0, events=32)
    interval = int(match[3]) / 1000 if match[3] else 0.0
    return Behaviour(delay=int(match[1]) / 1000, events=int(match[2]), interval=interval)


def model_name(delay_ms: int, events: int, interval_ms: int = 0) -> str:
    spacing = f"-i{interval_ms}" if interval_ms else ""
    return f"bench-d{delay_ms}-e{events}{spacing}"


def _head(status: bytes, content_type: bytes, extra: bytes) -> bytes:
    return b"HTTP/1.1 " + status + b"\r\ncontent-type: " + content_type + b"\r\n" + extra + b"\r\n"


@cache
def json_answer(model: str, events: int) -> bytes:
    """A whole `chat.completion`, as long as the streamed answer would be."""
    body = orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": _CREATED,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": " tok" * events},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 24,
                "completion_tokens": events,
                "total_tokens": 24 + events,
            },
        }
    )
    length = b"content-length: " + str(len(body)).encode() + b"\r\n"
    return _head(b"200 OK", b"application/json", length) + body


@cache
def sse_answer(model: str, events: int, usage: bool) -> tuple[bytes, ...]:
    """Response head, then one chunked-encoding frame per event, then the terminating frame."""

    def chunk(delta: dict[str, str], finish: str | None) -> dict[str, object]:
        return {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    payloads: list[object] = [chunk({"role": "assistant", "content": ""}, None)]
    payloads += [chunk({"content": " tok"}, None) for _ in range(events)]
    payloads.append(chunk({}, "stop"))
    if usage:
        last = chunk({}, None)
        last["choices"] = []
        last["usage"] = {
            "prompt_tokens": 24,
            "completion_tokens": events,
            "total_tokens": 24 + events,
        }
        payloads.append(last)
    frames = [_frame(b"data: " + orjson.dumps(p) + b"\n\n") for p in payloads]
    frames.append(_frame(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    head = _head(b"200 OK", b"text/event-stream", b"transfer-encoding: chunked\r\n")
    return (head, *frames)


def _usage(events: int) -> dict[str, int]:
    return {"prompt_tokens": 24, "completion_tokens": events, "total_tokens": 24 + events}


def _frame(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


_NOT_FOUND = _head(b"404 Not Found", b"application/json", b"content-length: 2\r\n") + b"{}"
_BAD = _head(b"400 Bad Request", b"application/json", b"content-length: 2\r\n") + b"{}"
_MODELS_ANSWER = (
    _head(b"200 OK", b"application/json", f"content-length: {len(_MODELS)}\r\n".encode()) + _MODELS
)


class UpstreamProtocol(asyncio.Protocol):
    """One connection. Clients here do not pipeline, so one request is in flight at a time."""

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._send(_BAD)
            if self._transport is not None:
                self._transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        path = self._url.split(b"?", 1)[0]
        if path.endswith(b"/models"):
            self._send(_MODELS_ANSWER)
        elif path.endswith(b"/chat/completions"):
            self._chat(b"".join(self._body))
        else:
            self._send(_NOT_FOUND)

    def _chat(self, raw: bytes) -> None:
        try:
            body = orjson.loads(raw)
            model = str(body["model"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self._send(_BAD)
            return
        how = behaviour_of(model)
        if body.get("stream"):
            options = body.get("stream_options") or {}
            frames = sse_answer(model, how.events, bool(options.get("include_usage")))
            if how.interval > 0:
                send = partial(self._send_spaced, frames, how.interval)
                asyncio.get_running_loop().call_later(how.delay, send)
                return
        else:
            frames = (json_answer(model, how.events),)
        if how.delay <= 0:
            self._send_all(frames)
        else:
            asyncio.get_running_loop().call_later(how.delay, self._send_all, frames)

    def _send(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _send_all(self, frames: tuple[bytes, ...]) -> None:
        # one write per event: uvloop sends each at once, as a token-by-token server would
        for frame in frames:
            self._send(frame)

    def _send_spaced(self, frames: tuple[bytes, ...], interval: float, sent: int = 0) -> None:
        """The head with the first event, then one event per `interval`."""
        if sent == 0:
            self._send(frames[0])
            sent = 1
        self._send(frames[sent])
        if sent + 1 < len(frames) and self._transport is not None:
            loop = asyncio.get_running_loop()
            loop.call_later(interval, self._send_spaced, frames, interval, sent + 1)


async def serve(host: str, port: int, ready: Callable[[int], None] | None = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(UpstreamProtocol, host, port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready(bound)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    def announce(port: int) -> None:
        print(f"listening {port}", flush=True)  # the harness reads the port from here

    uvloop.run(serve(args.host, args.port, announce))


if __name__ == "__main__":
    main()
