"""Bedrock over HTTP: Converse, ConverseStream and InvokeModel; only moves bytes."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from tripoint.errors import UpstreamError
from tripoint.providers.base import ChatStream
from tripoint.providers.bedrock import codec, embedding
from tripoint.providers.bedrock.eventstream import EventStreamDecoder
from tripoint.providers.bedrock.stream import ConverseStreamTranslator
from tripoint.providers.target import Target
from tripoint.providers.upstream import Upstream, UpstreamResponse
from tripoint.providers.vectors import encode, texts_of
from tripoint.schema.chunks import EmbeddingResult, Usage
from tripoint.schema.json import JSONObject
from tripoint.schema.requests import ChatRequest, EmbeddingRequest

EVENT_STREAM = "application/vnd.amazon.eventstream"
_EMBED_CONCURRENCY = 8  # Titan embeds one text per call: bound the fan-out per request


class BedrockProvider:
    name = "bedrock"

    def __init__(self, upstream: Upstream, guardrail: JSONObject | None = None) -> None:
        self._upstream = upstream
        self._guardrail = guardrail  # guardrailConfig, sent with every chat call

    async def start(self) -> None:
        await self._upstream.start()

    async def close(self) -> None:
        await self._upstream.close()

    async def chat(self, request: ChatRequest, target: Target) -> ChatStream:
        body = codec.to_wire(request, self._guardrail)
        operation = "converse-stream" if request.stream else "converse"
        accept = EVENT_STREAM if request.stream else None
        path = _model_path(target.model, operation)
        async with self._upstream.post(path, body, accept=accept) as response:
            await self._raise_for_status(response)
            if not request.stream:
                yield codec.chunk_from_wire(await response.json())
                return
            if not response.headers.get("Content-Type", "").startswith(EVENT_STREAM):
                raise UpstreamError(
                    f"backend {self._upstream.name!r} did not answer with an event stream"
                )
            translator = ConverseStreamTranslator(self._upstream.name)
            decoder = EventStreamDecoder()
            async for data in response.chunks():
                for message in decoder.feed(data):
                    if chunk := translator.feed(message):
                        yield chunk
            if decoder.pending or not (translator.stopped and translator.finished):
                raise UpstreamError(f"backend {self._upstream.name!r} ended the stream early")

    async def embed(self, request: EmbeddingRequest, target: Target) -> EmbeddingResult:
        family = embedding.family_of(target.model)
        path = _model_path(target.model, "invoke")
        limit = asyncio.Semaphore(_EMBED_CONCURRENCY)

        async def invoke(batch: embedding.Batch) -> tuple[list[list[float]], int]:
            async with limit, self._upstream.post(path, batch.body) as response:
                await self._raise_for_status(response)
                return embedding.vectors_from_wire(await response.json(), family, response.headers)

        answers = await asyncio.gather(*(invoke(b) for b in embedding.batches(request, family)))
        vectors = [v for rows, _ in answers for v in rows]
        if len(vectors) != len(texts_of(request)):
            raise UpstreamError(f"backend {self._upstream.name!r} returned the wrong vector count")
        tokens = sum(count for _, count in answers)
        return EmbeddingResult(
            vectors=tuple(encode(v, request.encoding_format) for v in vectors),
            usage=Usage(prompt_tokens=tokens, total_tokens=tokens),
        )

    async def _raise_for_status(self, response: UpstreamResponse) -> None:
        if response.status >= 400:
            raise codec.error_from_wire(
                self._upstream.name, response.status, await response.text(), response.headers
            )


def _model_path(model: str, operation: str) -> str:
    # model ids hold ':' and ARNs hold '/': escape them as one path segment, as the AWS SDKs do
    return f"/model/{quote(model, safe='')}/{operation}"
