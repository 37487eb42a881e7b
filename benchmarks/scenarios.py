"""What is measured: the cells of the matrix, the request bodies, and the gateway variants.

A variant is a name plus a config factory. Later issues add rows by appending variants here
(limits on, guardrails on, metrics on): each runs as its own gateway process, measured side
by side with the others and with the direct baseline, cell by cell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from benchmarks.upstream import model_name

ConfigFactory = Callable[[str, Sequence[str]], str]  # (upstream /v1 URL, model names) -> YAML


@dataclass(frozen=True, slots=True)
class Cell:
    """One point of the matrix, measured directly and through every variant."""

    concurrency: int
    stream: bool
    delay_ms: int
    events: int  # content events per streamed answer (and tokens in a whole one)
    interval_ms: int = 0  # between streamed events; 0: back to back

    @property
    def model(self) -> str:
        return model_name(self.delay_ms, self.events, self.interval_ms)

    @property
    def label(self) -> str:
        kind = "stream" if self.stream else "json"
        return f"{kind} d={self.delay_ms}ms c={self.concurrency} e={self.events}"


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    config: ConfigFactory
    description: str
    source: Path | None = None  # run Tripoint from this source tree (`src/`), not the installed one
    redis: str | None = None  # needs a redis-server with this `appendfsync` (URL: redis_env())


def bare_config(upstream_url: str, models: Sequence[str]) -> str:
    """The bare data plane: one OpenAI-compatible backend, one route per model, no controls."""
    routes = "\n".join(
        f"  {m}:\n    targets: [{{backend: bench, model: {m}}}]\n    operations: [chat]"
        for m in models
    )
    return f"""\
backends:
  bench:
    type: openai
    base_url: {upstream_url}
    pattern: self_hosted
    max_connections: 512
models:
{routes}
"""


def limits_config(upstream_url: str, models: Sequence[str]) -> str:
    """The bare data plane plus a caller's RPM, TPM and spend budget, in process memory (set
    high enough never to refuse: what is measured is the cost of reserving and settling)."""
    return (
        bare_config(upstream_url, models)
        + """limits:
  defaults:
    requests_per_minute: 100000000
    tokens_per_minute: 100000000000
    budget_usd_total: "1000000000"
"""
    )


def redis_env(fsync: str) -> str:
    """The variable holding the URL of the run's redis-server with this fsync policy."""
    return f"TRIPOINT_BENCH_REDIS_{fsync.upper()}"


def limits_redis_config(fsync: str) -> ConfigFactory:
    """The same limits with the counters in Redis, as replicas share them: one Lua script per
    reservation and one per settlement, over loopback, to a redis-server persisting with AOF
    and `appendfsync <fsync>` (`always`, as budgets need it, or `everysec`)."""

    def config(upstream_url: str, models: Sequence[str]) -> str:
        store = f"  store: {{type: redis, url: env:{redis_env(fsync)}, timeout: 1}}\n"
        return limits_config(upstream_url, models) + store

    return config


def routing_config(upstream_url: str, models: Sequence[str]) -> str:
    """The bare data plane with the routing layer's choices on: least-outstanding strategy
    over two targets, retries, breakers (the upstream never fails: the cost of the bookkeeping)."""
    routes = "\n".join(
        f"  {m}:\n    strategy: least_outstanding\n    retry: {{attempts: 2}}\n"
        f"    targets: [{{backend: bench, model: {m}}}, {{backend: spare, model: {m}}}]\n"
        f"    operations: [chat]"
        for m in models
    )
    return f"""\
backends:
  bench: {{type: openai, base_url: {upstream_url}, pattern: self_hosted, max_connections: 512}}
  spare: {{type: openai, base_url: {upstream_url}, pattern: self_hosted, max_connections: 512}}
models:
{routes}
"""


VARIANTS: tuple[Variant, ...] = (
    Variant("tripoint", bare_config, "data plane with metrics and the record stage (defaults)"),
    Variant("limits", limits_config, "plus a caller's RPM, TPM and budget (memory store)"),
    Variant(
        "limits-redis",
        limits_redis_config("always"),
        "the same limits in Redis, durable as budgets need (AOF, appendfsync always)",
        redis="always",
    ),
    Variant(
        "limits-redis-1s",
        limits_redis_config("everysec"),
        "the same in Redis fsyncing once a second (a crash may forget 1 s of spend)",
        redis="everysec",
    ),
    Variant("routing", routing_config, "plus least-outstanding over two targets, retries"),
)


def matrix(
    concurrencies: Sequence[int],
    delays_ms: Sequence[int],
    events: int,
    event_sweep: Sequence[int] = (),
) -> list[Cell]:
    """Non-streaming first, then streaming; within each, by delay, then concurrency. Then the
    event sweep: streams of other lengths at the middle concurrency and no delay, from which
    the marginal CPU cost of one more event follows."""
    cells = [
        Cell(concurrency=c, stream=stream, delay_ms=d, events=events)
        for stream in (False, True)
        for d in delays_ms
        for c in concurrencies
    ]
    middle = sorted(concurrencies)[len(concurrencies) // 2]
    cells += [Cell(concurrency=middle, stream=True, delay_ms=0, events=n) for n in event_sweep]
    return cells


def request_body(cell: Cell) -> bytes:
    """A typical small chat request, as the `openai` SDK sends it."""
    body: dict[str, object] = {
        "model": cell.model,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Say hello in one short sentence, please."},
        ],
        "max_tokens": 64,
        "temperature": 0.2,
    }
    if cell.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return orjson.dumps(body)


def events_per_stream(cell: Cell) -> int:
    """SSE data events the gateway forwards per streamed answer: the role event, the content
    events, the finish event and the usage event ([DONE] not counted)."""
    return cell.events + 3
