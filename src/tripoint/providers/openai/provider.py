"""OpenAI-compatible backends over HTTP; only moves bytes, the codec translates."""

from __future__ import annotations

import logging

from tripoint.errors import UpstreamError
from tripoint.providers.base import ChatStream
from tripoint.providers.openai import codec
from tripoint.providers.target import Target
from tripoint.providers.tokens import TokenCounter
from tripoint.providers.upstream import Upstream
from tripoint.providers.usage_estimate import UsageEstimate
from tripoint.schema.chunks import EmbeddingResult
from tripoint.schema.json import JSONObject
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest

log = logging.getLogger("tripoint.providers")


class OpenAIProvider:
    name = "openai"

    def __init__(self, upstream: Upstream, counter: TokenCounter | None = None) -> None:
        self._upstream = upstream
        self._counter = counter or TokenCounter()  # for servers that report no stream usage
        self._estimating = False  # said once in the log: this backend's usage is estimated

    async def start(self) -> None:
        await self._upstream.start()

    async def close(self) -> None:
        await self._upstream.close()

    def chat(self, request: ChatRequest, target: Target) -> ChatStream:
        path = self._path("/chat/completions", target)
        return self._exchange(path, self._body(request, target), request)

    def complete(self, request: CompletionRequest, target: Target) -> ChatStream:
        path = self._path("/completions", target)
        return self._exchange(path, self._body(request, target), request)

    async def embed(self, request: EmbeddingRequest, target: Target) -> EmbeddingResult:
        path, body = self._path("/embeddings", target), self._body(request, target)
        async with self._upstream.post(path, body) as r:
            if r.status >= 400:
                raise codec.error_from_wire(
                    self._upstream.name, r.status, await r.text(), r.headers
                )
            return codec.embedding_from_wire(await r.json())

    def _say_estimating(self) -> None:
        if not self._estimating:
            self._estimating = True
            log.warning(
                "backend %r answered without usage (a stream that ignores "
                "stream_options.include_usage, or a server that never reports it): "
                "usage is estimated with cl100k_base",
                self._upstream.name,
            )

    def _path(self, endpoint: str, target: Target) -> str:
        """Where an operation lives; OpenAI-compatible variants (Azure) override this."""
        return endpoint

    def _body(
        self, request: ChatRequest | CompletionRequest | EmbeddingRequest, target: Target
    ) -> JSONObject:
        return codec.to_wire(request, target.model)

    async def _exchange(
        self, path: str, body: JSONObject, request: ChatRequest | CompletionRequest
    ) -> ChatStream:
        stream = bool(body.get("stream"))
        async with self._upstream.post(path, body, stream=stream) as response:
            if response.status >= 400:
                raise codec.error_from_wire(
                    self._upstream.name, response.status, await response.text(), response.headers
                )
            usage = UsageEstimate(self._counter, request)
            if not stream:
                whole = codec.chunk_from_wire(_object(await response.json()))
                usage.see(whole)
                yield whole
                if (estimated := usage.missing()) is not None:
                    self._say_estimating()
                    yield estimated
                return
            if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
                raise UpstreamError(
                    f"backend {self._upstream.name!r} did not answer with an event stream"
                )
            async for event in response.events():
                if event.data == codec.DONE:
                    if (estimated := usage.missing()) is not None:
                        self._say_estimating()
                        yield estimated
                    return
                if chunk := codec.chunk_from_event(event):
                    usage.see(chunk)
                    yield chunk
            raise UpstreamError(f"backend {self._upstream.name!r} ended the stream early")


def _object(payload: object) -> JSONObject:
    if not isinstance(payload, dict):
        raise UpstreamError("upstream answered with JSON that is not an object")
    if not isinstance(payload.get("choices"), list):
        # without this an error body sent with status 200 became an empty, "successful" answer
        raise UpstreamError("upstream answered without choices")
    return payload
