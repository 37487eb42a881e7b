"""The pipeline's terminal stage: dispatch a call to its targets in order.

A target that fails before its first chunk is abandoned for the next one (fallback); once a
chunk has been yielded the answer is committed to that target and a failure propagates.
A request the upstream rejected as malformed is the client's fault and is never retried.
"""

from __future__ import annotations

from collections.abc import Mapping

from tripoint.errors import (
    InvalidRequestError,
    ServiceUnavailableError,
    UpstreamError,
    UpstreamRejectedError,
)
from tripoint.pipeline.attempt import AttemptWrapper, timed_attempt
from tripoint.pipeline.call import Call, Operation
from tripoint.pipeline.stage import ChunkStream
from tripoint.providers.base import ChatProvider, CompletionProvider, EmbeddingProvider, Provider
from tripoint.providers.target import Target
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest


class Router:
    def __init__(
        self, providers: Mapping[str, Provider], attempt: AttemptWrapper = timed_attempt
    ) -> None:
        self._providers = providers
        self._attempt = attempt  # times each attempt on the Record (telemetry adds a span)

    async def __call__(self, call: Call) -> ChunkStream:
        capable = [t for t in call.targets if _supports(self._providers[t.backend.name], call)]
        if not capable:
            raise InvalidRequestError(
                f"model {call.model!r} does not support {call.operation.value}", param="model"
            )
        failure: UpstreamError | None = None
        for target in capable:
            call.record.attempts += 1
            call.record.target = target
            stream = self._attempt(
                call, target, _dispatch(self._providers[target.backend.name], call.request, target)
            )
            try:
                first = await anext(stream)
            except StopAsyncIteration:
                return
            except UpstreamRejectedError:
                raise
            except UpstreamError as exc:
                failure = exc
                await stream.aclose()
                continue
            try:
                yield first
                async for chunk in stream:
                    yield chunk
            finally:
                await stream.aclose()
            return
        if failure is not None:
            raise failure
        raise ServiceUnavailableError(f"no target could serve model {call.model!r}")


def _supports(provider: Provider, call: Call) -> bool:
    match call.operation:
        case Operation.CHAT:
            return isinstance(provider, ChatProvider)
        case Operation.COMPLETIONS:
            return isinstance(provider, CompletionProvider)
        case Operation.EMBEDDINGS:
            return isinstance(provider, EmbeddingProvider)


def _dispatch(
    provider: Provider,
    request: ChatRequest | CompletionRequest | EmbeddingRequest,
    target: Target,
) -> ChunkStream:
    if isinstance(request, ChatRequest) and isinstance(provider, ChatProvider):
        return provider.chat(request, target)
    if isinstance(request, CompletionRequest) and isinstance(provider, CompletionProvider):
        return provider.complete(request, target)
    if isinstance(request, EmbeddingRequest) and isinstance(provider, EmbeddingProvider):
        return _once(provider, request, target)
    raise InvalidRequestError(f"backend {target.backend.name!r} cannot serve this request")


async def _once(
    provider: EmbeddingProvider, request: EmbeddingRequest, target: Target
) -> ChunkStream:
    yield await provider.embed(request, target)
