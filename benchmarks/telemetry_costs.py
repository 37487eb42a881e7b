"""Telemetry's cost per call, part by part, in CPU microseconds (process time, all threads).

The end-to-end comparison (telemetry_overhead.py) is what counts, but on a shared machine its
noise is larger than the effect; this measures each part in isolation, in one process, with
no network: the record stage alone (what "telemetry off" still runs), the same with spans (a
call span and one upstream attempt span, recorded, encoded to OTLP/JSON and queued as in
production; the export thread's batches are not posted), the metrics sink, and the JSON
access line (formatted, written to memory).

Usage: .venv/bin/python benchmarks/telemetry_costs.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tripoint.config.schema import MetricsSettings, TelemetrySettings, TracingSettings
from tripoint.logs import JsonFormatter
from tripoint.pipeline.call import Call, Operation, Record
from tripoint.pipeline.stage import ChunkStream
from tripoint.providers.target import BackendFacts, Target
from tripoint.schema.chunks import ChatChunk, ChoiceDelta, Usage
from tripoint.schema.requests import ChatRequest
from tripoint.telemetry import Telemetry
from tripoint.telemetry.access_log import AccessLog
from tripoint.telemetry.metrics import Metrics
from tripoint.telemetry.span_queue import JsonSpanQueue

TARGET = Target(BackendFacts("gpu", "openai", "self_hosted", None, False, False, ()), "llama")
REQUEST = ChatRequest.model_validate(
    {"model": "chat-default", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
)
ANSWER = ChatChunk(
    choices=(ChoiceDelta(role="assistant", text="Hello!", finish_reason="stop"),),
    usage=Usage(prompt_tokens=9, completion_tokens=3, total_tokens=12),
)


def quiet(metrics: bool = False, tracing: bool = False) -> TelemetrySettings:
    return TelemetrySettings(
        metrics=MetricsSettings(enabled=metrics),
        tracing=TracingSettings(enabled=tracing),
        access_log=False,
        recent_records=0,
    )


def pipeline_cost(telemetry: Telemetry, calls: int) -> float:
    """CPU us per call through the record stage and one attempt, nothing else."""

    async def terminal(call: Call) -> ChunkStream:
        call.record.target = TARGET
        yield ANSWER

    async def router(call: Call) -> ChunkStream:
        async for chunk in telemetry.attempt(call, TARGET, terminal(call)):
            yield chunk

    async def run() -> None:
        for _ in range(calls):
            record = Record(
                request_id="0123456789ab", model="chat-default", operation=Operation.CHAT
            )
            call = Call(request=REQUEST, model="chat-default", targets=(TARGET,), record=record)
            async for _chunk in telemetry.stage(call, router):
                pass

    started = time.process_time()
    asyncio.run(run())
    return (time.process_time() - started) / calls * 1e6


def sink_cost(write: Callable[[Record], None], calls: int) -> float:
    now = time.perf_counter()
    record = Record(request_id="0123456789ab", model="chat-default", operation=Operation.CHAT)
    record.target, record.usage, record.finished_at = TARGET, ANSWER.usage, now
    started = time.process_time()
    for _ in range(calls):
        write(record)
    return (time.process_time() - started) / calls * 1e6


def access_cost(calls: int) -> float:
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("benchmark.access")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return sink_cost(AccessLog(logger).write, calls)


def traced(calls: int, sample_ratio: float = 1.0) -> float:
    """Spans recorded, encoded and queued as in production; the batches are not posted."""
    settings = quiet(tracing=True)
    tracing = settings.tracing.model_copy(
        update={"otlp_endpoint": "http://127.0.0.1:9/v1/traces", "sample_ratio": sample_ratio}
    )
    telemetry = Telemetry(settings.model_copy(update={"tracing": tracing}), ["chat-default"])
    assert telemetry.tracing is not None
    queue = telemetry.tracing.spans._sink
    assert isinstance(queue, JsonSpanQueue)
    queue._post = lambda body, spans: True  # type: ignore[assignment,method-assign]
    try:
        return pipeline_cost(telemetry, calls)
    finally:
        telemetry.tracing.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    parts: dict[str, Callable[[], float]] = {
        "record stage alone (telemetry off)": lambda: pipeline_cost(
            Telemetry(quiet(), ["chat-default"]), args.calls
        ),
        "record stage + spans (recorded, encoded, queued)": lambda: traced(args.calls),
        "record stage + spans sampled at 10%": lambda: traced(args.calls, 0.1),
        "metrics sink": lambda: sink_cost(Metrics(["chat-default"]).write, args.calls),
        "access log line": lambda: access_cost(args.calls),
    }
    print(f"calls={args.calls} repeat={args.repeat}; CPU us per call (median, min)")
    for name, measure in parts.items():
        samples = [measure() for _ in range(args.repeat)]
        print(f"  {name:<50} {statistics.median(samples):7.1f} {min(samples):7.1f}")


if __name__ == "__main__":
    main()
