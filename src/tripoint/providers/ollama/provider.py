"""Ollama's native API over HTTP; only moves bytes, the codec translates."""

from __future__ import annotations

from tripoint.errors import UpstreamError
from tripoint.providers.base import ChatStream
from tripoint.providers.ollama import codec
from tripoint.providers.target import Target
from tripoint.providers.toolspec import new_call_id
from tripoint.providers.upstream import Upstream
from tripoint.schema.chunks import EmbeddingResult
from tripoint.schema.json import JSONObject
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest


class OllamaProvider:
    name = "ollama"

    def __init__(
        self, upstream: Upstream, options: codec.Options, keep_alive: str | None = None
    ) -> None:
        self._upstream = upstream
        self._options = options
        self._keep_alive = keep_alive

    async def start(self) -> None:
        await self._upstream.start()

    async def close(self) -> None:
        await self._upstream.close()

    def chat(self, request: ChatRequest, target: Target) -> ChatStream:
        body = codec.chat_to_wire(request, target.model, self._options, self._keep_alive)
        return self._exchange("/api/chat", body, stream=request.stream)

    def complete(self, request: CompletionRequest, target: Target) -> ChatStream:
        body = codec.completion_to_wire(request, target.model, self._options, self._keep_alive)
        return self._exchange("/api/generate", body, stream=request.stream)

    async def embed(self, request: EmbeddingRequest, target: Target) -> EmbeddingResult:
        body = codec.embed_to_wire(request, target.model, self._keep_alive)
        async with self._upstream.post("/api/embed", body) as r:
            if r.status >= 400:
                raise codec.error_from_wire(
                    self._upstream.name, r.status, await r.text(), r.headers
                )
            return codec.embedding_from_wire(
                await r.json(), base64_vectors=request.encoding_format == "base64"
            )

    async def _exchange(self, path: str, body: JSONObject, *, stream: bool) -> ChatStream:
        decoder = codec.ChatDecoder(new_call_id)
        async with self._upstream.post(path, body) as response:
            if response.status >= 400:
                raise codec.error_from_wire(
                    self._upstream.name, response.status, await response.text(), response.headers
                )
            if not stream:
                yield decoder.whole(await response.json())
                return
            if not response.headers.get("Content-Type", "").startswith("application/x-ndjson"):
                raise UpstreamError(
                    f"backend {self._upstream.name!r} did not answer with an NDJSON stream"
                )
            async for line in response.lines():
                for chunk in decoder.stream(codec.parse_line(line)):
                    yield chunk
                if decoder.done:
                    return
            raise UpstreamError(f"backend {self._upstream.name!r} ended the stream early")
