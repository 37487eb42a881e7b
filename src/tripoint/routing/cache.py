"""Opt-in exact-match response cache: per model, keyed per team, never shared across teams.

Sits innermost in the pipeline, so a hit has passed authentication, governance, limits and
input guardrails like any call; it marks the record (`cache_hit`) so it costs no tokens.
Sampled requests (temperature unset or > 0) are not cached unless the model forces it.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Protocol

import orjson

from tripoint.config.routing import CachePolicy
from tripoint.pipeline.call import Call
from tripoint.pipeline.stage import ChunkStream, Next
from tripoint.schema.chunks import Chunk
from tripoint.schema.oip import InferRequest
from tripoint.schema.requests import EmbeddingRequest

_VOLATILE = {"stream", "stream_options", "user"}  # do not change the answer


class CacheStore(Protocol):
    async def get(self, key: str) -> tuple[Chunk, ...] | None: ...

    async def put(self, key: str, chunks: tuple[Chunk, ...], ttl: float) -> None: ...


class MemoryCacheStore:
    """LRU with per-entry expiry, bounded in entries."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, tuple[Chunk, ...]]] = OrderedDict()

    async def get(self, key: str) -> tuple[Chunk, ...] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, chunks = entry
        if expires < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return chunks

    async def put(self, key: str, chunks: tuple[Chunk, ...], ttl: float) -> None:
        self._entries[key] = (time.monotonic() + ttl, chunks)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


def cacheable(call: Call, policy: CachePolicy) -> bool:
    if not policy.enabled:
        return False
    if policy.force or isinstance(call.request, EmbeddingRequest):
        return True
    if isinstance(call.request, InferRequest):
        return False  # a model's answer may change with its version: only when forced
    temperature = call.request.temperature
    return temperature is not None and temperature == 0


def cache_key(call: Call) -> str:
    """The team (or, without one, the caller) plus the normalised request."""
    scope = call.principal.team or f"principal:{call.principal.id}"
    body = call.request.model_dump(mode="json", exclude_unset=True, exclude=_VOLATILE)
    material = orjson.dumps([scope, call.operation.value, body], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(material).hexdigest()


class ResponseCache:
    def __init__(self, policies: Mapping[str, CachePolicy], store: CacheStore) -> None:
        self._policies = policies
        self._store = store

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        policy = self._policies.get(call.model)
        if policy is None or not cacheable(call, policy):
            async for chunk in call_next(call):
                yield chunk
            return
        key = cache_key(call)
        hit = await self._store.get(key)
        if hit is not None:
            call.record.cache_hit = True
            for chunk in hit:
                yield chunk
            return
        collected: list[Chunk] = []
        async for chunk in call_next(call):
            collected.append(chunk)
            yield chunk
        # reached only when the answer completed: failures and disconnects are not cached
        await self._store.put(key, tuple(collected), policy.ttl)
