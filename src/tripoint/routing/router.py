"""The pipeline's terminal stage: choose among the call's allowed targets and dispatch.

Targets are ordered by the model's strategy; unhealthy targets and open breakers are skipped;
a saturated self-hosted target (admission) is passed over. A failure before the first chunk
moves to the next target (waiting out backoff or Retry-After when it comes back to a target
already tried), at most `1 + retry.attempts` upstream attempts per request and within the
gateway-wide retry budget. Once a chunk has been yielded the answer is committed: a later
failure propagates and is never retried. The router only ever chooses among `call.targets`,
which governance has already narrowed, so fallback cannot escape the allowed set.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import cast

from tripoint.config.routing import RetryBudget, RetryPolicy, Strategy
from tripoint.errors import (
    InvalidRequestError,
    RateLimitError,
    ServiceUnavailableError,
    TripointError,
    UpstreamError,
    UpstreamRejectedError,
)
from tripoint.pipeline.attempt import AttemptWrapper, timed_attempt
from tripoint.pipeline.call import AnyRequest, Call, Operation
from tripoint.pipeline.quota import BackendQuota
from tripoint.pipeline.stage import ChunkStream
from tripoint.providers.base import (
    ChatProvider,
    CompletionProvider,
    EmbeddingProvider,
    PredictionProvider,
    Provider,
)
from tripoint.providers.completion_bridge import complete_via_chat
from tripoint.providers.target import Target
from tripoint.routing import strategy
from tripoint.routing.admission import SaturatedError
from tripoint.routing.fleet import Fleet, TargetState
from tripoint.routing.retry import budget_allows, may_retry, wait_before
from tripoint.schema.chunks import Chunk
from tripoint.schema.oip import InferRequest
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    strategy: Strategy = "priority"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    weights: Mapping[str, float] = field(default_factory=dict)  # target label -> weight


DEFAULT_POLICY = RoutePolicy()


class Router:
    def __init__(
        self,
        providers: Mapping[str, Provider],
        fleet: Fleet,
        *,
        policies: Mapping[str, RoutePolicy] | None = None,
        budget: RetryBudget | None = None,
        rng: random.Random | None = None,
        quota: BackendQuota | None = None,
        attempt: AttemptWrapper = timed_attempt,
    ) -> None:
        self._attempt = attempt  # times each attempt on the Record (telemetry adds a span)
        self._providers = providers
        # capabilities are fixed per provider: checked once here, not per call (runtime
        # Protocol checks cost tens of microseconds each)
        native = {name: capabilities(p) for name, p in providers.items()}
        # chat-only backends serve text completions through chat (completion_bridge.py)
        self._bridged = frozenset(
            name
            for name, can in native.items()
            if Operation.CHAT in can and Operation.COMPLETIONS not in can
        )
        self._can = {
            name: can | {Operation.COMPLETIONS} if name in self._bridged else can
            for name, can in native.items()
        }
        self._quota = quota
        self._fleet = fleet
        self._policies = policies or {}
        self._budget = budget or RetryBudget()
        self._rng = rng or random.Random()  # noqa: S311 -- load spreading, not security

    async def __call__(self, call: Call) -> ChunkStream:
        operation = call.operation
        candidates = [t for t in call.targets if operation in self._can[t.backend.name]]
        if not candidates:
            raise InvalidRequestError(
                f"model {call.model!r} does not support {call.operation.value}", param="model"
            )
        policy = self._policies.get(call.model, DEFAULT_POLICY)
        weights = [policy.weights.get(t.label, 1.0) for t in candidates]
        ordered = strategy.order(candidates, weights, policy.strategy, self._fleet, self._rng)
        self._fleet.active_requests += 1
        try:
            async for chunk in self._attempts(call, ordered, policy.retry):
                yield chunk
        finally:
            self._fleet.active_requests -= 1

    async def _attempts(self, call: Call, ordered: list[Target], retry: RetryPolicy) -> ChunkStream:
        plan = _Plan(ordered, retry, self._fleet, self._budget, self._rng)
        for target, state, wait in plan:
            stack = AsyncExitStack()
            try:
                await self._admit(call, target, stack)
            except (SaturatedError, RateLimitError) as exc:  # busy here: try another target
                state.breaker.release_probe()
                await stack.aclose()
                plan.passed_over(exc)
                continue
            if wait:
                await asyncio.sleep(wait)
            self._note_attempt(call, target, plan.start(target))
            try:
                first, stream = await self._first_chunk(
                    call, target, state, stack, retry=plan.attempts > 1
                )
            except UpstreamRejectedError:
                raise
            except UpstreamError as exc:
                plan.failed(target, exc)
                if not may_retry(exc, retry):
                    raise
                continue
            if first is not None:
                if first.usage is not None:
                    call.record.usage = first.usage
                async for chunk in _committed(call, first, stream, state, stack):
                    yield chunk
            return
        raise plan.give_up(call.model)

    async def _first_chunk(
        self,
        call: Call,
        target: Target,
        state: TargetState,
        stack: AsyncExitStack,
        *,
        retry: bool,
    ) -> tuple[Chunk | None, ChunkStream]:
        """Start the attempt and wait for its first chunk; on failure the attempt is closed."""
        state.in_flight += 1
        stack.callback(_leave, state)
        provider = self._providers[target.backend.name]
        bridged = target.backend.name in self._bridged
        dispatched = _dispatch(provider, call.request, target, bridged=bridged)
        stream = self._attempt(call, target, dispatched)
        stack.push_async_callback(stream.aclose)
        if retry:
            self._fleet.active_retries += 1
        started = time.monotonic()
        try:
            first = await anext(stream)
        except StopAsyncIteration:
            state.breaker.success()
            await stack.aclose()
            return None, stream
        except UpstreamRejectedError:
            state.breaker.success()  # the upstream is fine; the request was not
            await stack.aclose()
            raise
        except UpstreamError:
            state.breaker.failure()
            await stack.aclose()
            raise
        except BaseException:
            state.breaker.release_probe()
            await stack.aclose()
            raise
        finally:
            if retry:
                self._fleet.active_retries -= 1
        state.observe_first_chunk(time.monotonic() - started)
        return first, stream

    async def _admit(self, call: Call, target: Target, stack: AsyncExitStack) -> None:
        """Hold a slot of the target's admission gate and of its backend's outbound quota
        for the whole attempt (released when `stack` closes)."""
        gate = self._fleet.gate(target.backend.name)
        if gate is not None:
            await stack.enter_async_context(gate.slot(call.priority))
        if self._quota is None:
            return
        ticket = await self._quota.acquire(call, target)
        if ticket is not None:
            quota = self._quota

            async def release() -> None:
                await quota.release(ticket, call.record.usage)

            stack.push_async_callback(release)

    @staticmethod
    def _note_attempt(call: Call, target: Target, attempts: int) -> None:
        """Retries and fallbacks are derived from the attempts the wrapper records."""
        call.record.attempts = attempts
        call.record.target = target


class _Plan:
    """Which target to try next and when to give up, for one call."""

    def __init__(
        self,
        ordered: list[Target],
        retry: RetryPolicy,
        fleet: Fleet,
        budget: RetryBudget,
        rng: random.Random,
    ) -> None:
        self._ordered = ordered
        self._retry = retry
        self._fleet = fleet
        self._budget = budget
        self._rng = rng
        self._limit = 1 + (len(ordered) - 1 if retry.attempts is None else retry.attempts)
        self._tries: Counter[str] = Counter()
        self._errors: dict[str, UpstreamError] = {}
        self._failure: TripointError | None = None
        self._skipped = 0
        self.attempts = 0

    def __iter__(self) -> Iterator[tuple[Target, TargetState, float]]:
        """Targets allowed now, with the wait before trying each; stops when attempts run
        out, when a whole round found no usable target, or when the retry budget is spent."""
        position = 0
        while self.attempts < self._limit and self._skipped < len(self._ordered):
            target = self._ordered[position % len(self._ordered)]
            position += 1
            state = self._fleet.state(target)
            label = target.label
            wait = wait_before(
                self._errors.get(label),
                label in self._tries,
                self._tries[label],
                self._retry,
                self._rng,
            )
            if wait is None or not state.healthy or not state.breaker.allow():
                self._skipped += 1
                continue
            if self.attempts and not budget_allows(self._fleet, self._budget):
                state.breaker.release_probe()
                return
            yield target, state, wait

    def passed_over(self, error: TripointError) -> None:
        self._failure = error
        self._skipped += 1

    def start(self, target: Target) -> int:
        self._skipped = 0
        self.attempts += 1
        self._tries[target.label] += 1
        return self.attempts

    def failed(self, target: Target, error: UpstreamError) -> None:
        self._failure = self._errors[target.label] = error

    def give_up(self, model: str) -> TripointError:
        return self._failure or ServiceUnavailableError(
            f"no target of model {model!r} is available (unhealthy or circuit open)",
            retry_after=1.0,
        )


async def _committed(
    call: Call, first: Chunk, stream: ChunkStream, state: TargetState, stack: AsyncExitStack
) -> ChunkStream:
    """The rest of an answer that has started: failures propagate, never retried."""
    try:
        yield first
        async for chunk in stream:
            yield chunk
            usage = chunk.usage
            if usage is not None:
                call.record.usage = usage
    except UpstreamError:
        state.breaker.failure()
        raise
    except BaseException:
        state.breaker.release_probe()
        raise
    else:
        state.breaker.success()
    finally:
        await stack.aclose()


def _leave(state: TargetState) -> None:
    state.in_flight -= 1


def capabilities(provider: Provider) -> frozenset[Operation]:
    """The operations a provider implements itself."""
    interfaces = {
        Operation.CHAT: ChatProvider,
        Operation.COMPLETIONS: CompletionProvider,
        Operation.EMBEDDINGS: EmbeddingProvider,
        Operation.PREDICT: PredictionProvider,
    }
    return frozenset(op for op, interface in interfaces.items() if isinstance(provider, interface))


def _dispatch(
    provider: Provider, request: AnyRequest, target: Target, *, bridged: bool
) -> ChunkStream:
    """The provider's stream for this request. Targets were filtered by `capabilities`
    already, so the (slow) runtime Protocol checks are not repeated per call."""
    if isinstance(request, ChatRequest):
        return cast(ChatProvider, provider).chat(request, target)
    if isinstance(request, CompletionRequest):
        if bridged:
            return complete_via_chat(cast(ChatProvider, provider), request, target)
        return cast(CompletionProvider, provider).complete(request, target)
    if isinstance(request, EmbeddingRequest):
        return _once(cast(EmbeddingProvider, provider), request, target)
    if isinstance(request, InferRequest):
        return _predict(cast(PredictionProvider, provider), request, target)
    raise InvalidRequestError(f"backend {target.backend.name!r} cannot serve this request")


async def _once(
    provider: EmbeddingProvider, request: EmbeddingRequest, target: Target
) -> ChunkStream:
    yield await provider.embed(request, target)


async def _predict(
    provider: PredictionProvider, request: InferRequest, target: Target
) -> ChunkStream:
    yield await provider.infer(request, target)
