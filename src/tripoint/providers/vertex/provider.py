"""Gemini on Vertex AI over HTTP: generateContent, streamGenerateContent, predict (embeddings)."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from tripoint.errors import UpstreamError
from tripoint.providers.base import ChatStream
from tripoint.providers.shape import arr, malformed, obj, opt_int
from tripoint.providers.target import Target
from tripoint.providers.upstream import Upstream, UpstreamResponse
from tripoint.providers.vectors import encode, texts_of
from tripoint.providers.vertex import codec, response
from tripoint.schema.chunks import EmbeddingResult, Usage
from tripoint.schema.json import JSON, JSONObject
from tripoint.schema.requests import ChatRequest, EmbeddingRequest

_EMBED_BATCH = 250  # instances per predict call (Vertex's documented maximum)
_EMBED_CONCURRENCY = 8  # predict calls in flight per request


def _batch_size(model: str) -> int:
    # gemini-embedding models take a single text per predict call
    return 1 if model.startswith("gemini-embedding") else _EMBED_BATCH


class VertexProvider:
    name = "vertex"

    def __init__(self, upstream: Upstream, project: str, location: str) -> None:
        self._upstream = upstream
        self._prefix = (
            f"/projects/{quote(project, safe='')}/locations/{quote(location, safe='')}"
            "/publishers/google/models/"
        )

    async def start(self) -> None:
        await self._upstream.start()

    async def close(self) -> None:
        await self._upstream.close()

    async def chat(self, request: ChatRequest, target: Target) -> ChatStream:
        body = codec.to_wire(request)
        if not request.stream:
            async with self._upstream.post(self._path(target, "generateContent"), body) as r:
                await self._raise_for_status(r)
                yield response.chunk_from_wire(await r.json())
            return
        path = self._path(target, "streamGenerateContent") + "?alt=sse"
        async with self._upstream.post(path, body, stream=True) as r:
            await self._raise_for_status(r)
            if not r.headers.get("Content-Type", "").startswith("text/event-stream"):
                raise UpstreamError(
                    f"backend {self._upstream.name!r} did not answer with an event stream"
                )
            translator = response.GenerateContentStreamTranslator(self._upstream.name)
            async for event in r.events():
                if chunk := translator.feed(event):
                    yield chunk
            last = translator.finish()
            if last.usage is not None:
                yield last

    async def embed(self, request: EmbeddingRequest, target: Target) -> EmbeddingResult:
        texts = texts_of(request)
        task = (request.model_extra or {}).get("task_type")
        extra: JSONObject = {"task_type": task} if isinstance(task, str) else {}
        parameters: JSONObject = {}
        if request.dimensions:
            parameters["outputDimensionality"] = request.dimensions
        size = _batch_size(target.model)
        limit = asyncio.Semaphore(_EMBED_CONCURRENCY)

        async def predict(batch: list[str]) -> tuple[list[list[float]], int]:
            body: JSONObject = {"instances": [{"content": t, **extra} for t in batch]}
            if parameters:
                body["parameters"] = parameters
            async with limit, self._upstream.post(self._path(target, "predict"), body) as r:
                await self._raise_for_status(r)
                rows, used = _predictions(await r.json())
            if len(rows) != len(batch):
                raise malformed("predictions do not match the instances sent")
            return rows, used

        answers = await asyncio.gather(
            *(predict(texts[at : at + size]) for at in range(0, len(texts), size))
        )
        tokens = sum(used for _, used in answers)
        return EmbeddingResult(
            vectors=tuple(
                encode(row, request.encoding_format) for rows, _ in answers for row in rows
            ),
            usage=Usage(prompt_tokens=tokens, total_tokens=tokens),
        )

    def _path(self, target: Target, method: str) -> str:
        if target.model.startswith("projects/"):  # a tuned model's endpoint, named in full
            return f"/{quote(target.model, safe='/')}:{method}"
        return f"{self._prefix}{quote(target.model, safe='')}:{method}"

    async def _raise_for_status(self, r: UpstreamResponse) -> None:
        if r.status >= 400:
            raise codec.error_from_wire(self._upstream.name, r.status, await r.text(), r.headers)


def _predictions(body: JSON) -> tuple[list[list[float]], int]:
    rows: list[list[float]] = []
    tokens = 0
    for raw in arr(obj(body, "predict response").get("predictions"), "predictions"):
        embeddings = obj(obj(raw, "prediction").get("embeddings"), "embeddings")
        values = embeddings.get("values")
        if not isinstance(values, list) or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in values
        ):
            raise malformed("embeddings.values is not a list of numbers")
        rows.append([float(x) for x in values])  # type: ignore[arg-type]
        statistics = embeddings.get("statistics")
        if statistics is not None:
            count = obj(statistics, "statistics").get("token_count")
            # Vertex reports token_count as a number, sometimes a float such as 5.0
            if isinstance(count, float) and count.is_integer():
                count = int(count)
            tokens += opt_int(count, "statistics.token_count") or 0
    return rows, tokens
