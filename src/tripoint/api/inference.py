"""The OpenAI inference routes: chat completions, text completions, embeddings.

Each request is parsed once, becomes a Call, and runs through the gateway's pipeline. The
first chunk is awaited before any byte is sent, so a failure before the answer starts
(unknown model, every target down) is a proper HTTP error status, not a broken stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tripoint.api.body import parse_request
from tripoint.api.disconnect import unless_disconnected
from tripoint.api.guard import requires
from tripoint.api.streaming import EventStreamResponse, Renderer
from tripoint.auth.roles import Role
from tripoint.gateway import Gateway
from tripoint.pipeline.call import Call, Operation
from tripoint.pipeline.stage import ChunkStream
from tripoint.schema import render
from tripoint.schema.chunks import ChatChunk, Chunk, EmbeddingResult
from tripoint.schema.json import JSONObject
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest, Sampling

R = TypeVar("R", ChatRequest, CompletionRequest, EmbeddingRequest)
StreamRenderer = Callable[..., JSONObject]
WholeRenderer = Callable[[list[ChatChunk], render.Identity], JSONObject]


@dataclass(frozen=True, slots=True)
class Wire:
    """How one operation's chunks are written: as stream events, or gathered whole."""

    chunk: StreamRenderer
    whole: WholeRenderer


CHAT = Wire(render.chat_chunk_json, render.chat_response_json)
COMPLETION = Wire(render.completion_chunk_json, render.completion_response_json)


@requires(Role.MEMBER)
async def chat_completions(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    body, call = await _begin(gateway, request, ChatRequest, Operation.CHAT)
    ident = render.Identity(id=f"chatcmpl-{call.request_id}", model=call.model)
    return await _answer(request, call, body, ident, CHAT)


@requires(Role.MEMBER)
async def completions(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    body, call = await _begin(gateway, request, CompletionRequest, Operation.COMPLETIONS)
    ident = render.Identity(id=f"cmpl-{call.request_id}", model=call.model)
    return await _answer(request, call, body, ident, COMPLETION)


@requires(Role.MEMBER)
async def embeddings(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    _, call = await _begin(gateway, request, EmbeddingRequest, Operation.EMBEDDINGS)
    chunks = gateway.run(call)
    try:
        results = await unless_disconnected(request.receive, _gather(chunks))
    finally:
        await chunks.aclose()
    result = next(c for c in results if isinstance(c, EmbeddingResult))
    ident = render.Identity(id=call.request_id, model=call.model)
    return _json(render.embedding_response_json(result, ident), call)


async def _begin(
    gateway: Gateway, request: Request, kind: type[R], operation: Operation
) -> tuple[R, Call]:
    """Parse the body and open the call; a refusal here is still recorded, then raised."""
    started = time.perf_counter()
    body: R | None = None
    try:
        body = await parse_request(request, kind, gateway.settings.server.max_body_bytes)
        call = gateway.call(
            body,
            request_id=_request_id(request),
            headers=request.headers,
            principal=request.state.principal,
            started=started,
        )
    except Exception as exc:
        gateway.reject(
            operation,
            exc,
            request_id=_request_id(request),
            model=body.model if body is not None else None,
            started=started,
            headers=request.headers,
        )
        raise
    return body, call


async def _answer(
    request: Request, call: Call, body: Sampling, ident: render.Identity, wire: Wire
) -> Response:
    gateway: Gateway = request.app.state.gateway
    receive = request.receive
    chunks = gateway.run(call)
    if not body.stream:
        try:
            gathered = await unless_disconnected(receive, _gather(chunks))
        finally:
            await chunks.aclose()
        whole = [c for c in gathered if isinstance(c, ChatChunk)]
        return _json(wire.whole(whole, ident), call)
    try:
        first = await unless_disconnected(receive, anext(chunks, ChatChunk()))
    except BaseException:
        await chunks.aclose()
        raise
    renderer: Renderer = partial(_stream_chunk, wire.chunk, ident, body.wants_usage_in_stream)
    return EventStreamResponse(first, chunks, renderer, _served_by(call))


async def _gather(chunks: ChunkStream) -> list[Chunk]:
    return [chunk async for chunk in chunks]


def _stream_chunk(
    render_chunk: StreamRenderer, ident: render.Identity, usage_in_stream: bool, chunk: Chunk
) -> JSONObject | None:
    if not isinstance(chunk, ChatChunk):
        return None
    if not usage_in_stream and not chunk.choices:
        return None  # the usage-only chunk the client did not ask for
    return render_chunk(chunk, ident, with_usage=usage_in_stream)


def _json(body: JSONObject, call: Call) -> Response:
    response = Response(orjson.dumps(body), media_type="application/json")
    response.raw_headers += _served_by(call)  # already bytes: no round trip through str
    return response


def _served_by(call: Call) -> list[tuple[bytes, bytes]]:
    """Headers about how the call was served, plus those stages left on the record."""
    headers = [(k.encode(), v.encode()) for k, v in call.record.response_headers.items()]
    if call.record.cache_hit:
        headers.append((b"x-tripoint-cache", b"hit"))
    elif call.record.target is not None:
        headers.append((b"x-tripoint-backend", call.record.target.backend.name.encode()))
    return headers


def _request_id(request: Request) -> str | None:
    state = request.scope.get("state", {})
    value = state.get("request_id")
    return value if isinstance(value, str) else None
