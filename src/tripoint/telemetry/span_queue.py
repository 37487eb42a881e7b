"""Where closed spans go: an SDK span processor, or Tripoint's OTLP/JSON queue of bytes.

The queue encodes each span as it closes and keeps only its bytes until a background thread
posts a batch. Bytes are not tracked by the garbage collector: spans waiting for export,
held as SDK objects with their dicts, were promoted through every generation and cost the
event loop more in collections than their encoding did.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping

import orjson
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from tripoint.telemetry.otlp_json import JSONValue, Poster, key_values, span_fields
from tripoint.telemetry.spans import OpenSpan

log = logging.getLogger("tripoint.telemetry")

MAX_BATCH = 512
MAX_QUEUE = 8192  # spans; beyond it new ones are dropped (and counted) rather than queued
INTERVAL = 2.0  # seconds between exports of a partial batch


class ProcessorSink:
    """Hands SDK `ReadableSpan`s to a span processor (tests, the protobuf exporter)."""

    def __init__(
        self, processor: SpanProcessor, resource: Resource, scope: InstrumentationScope
    ) -> None:
        self._processor = processor
        self._resource = resource
        self._scope = scope

    def add(self, span: OpenSpan, end_ns: int) -> None:
        self._processor.on_end(
            ReadableSpan(
                name=span.name,
                context=span.context,
                parent=span.parent,
                resource=self._resource,
                attributes=span.attributes,
                events=tuple(span.events),
                kind=span.kind,
                status=span.status,
                start_time=span.start_ns,
                end_time=end_ns,
                instrumentation_scope=self._scope,
            )
        )

    def shutdown(self) -> None:
        self._processor.shutdown()


class JsonSpanQueue:
    """Encodes spans to OTLP/JSON as they close; a daemon thread posts them in batches."""

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str],
        resource: Resource,
        scope: InstrumentationScope,
        *,
        timeout: float = 10.0,
    ) -> None:
        self._post = Poster(endpoint, headers, timeout)
        described: JSONValue = {"name": scope.name}
        if scope.version:
            described["version"] = scope.version
        resource_json = orjson.dumps({"attributes": key_values(resource.attributes)})
        self._head = (
            b'{"resourceSpans":[{"resource":'
            + resource_json
            + b',"scopeSpans":[{"scope":'
            + orjson.dumps(described)
            + b',"spans":['
        )
        self._tail = b"]}]}]}"
        self._memo: dict[tuple[str, object], JSONValue] = {}  # event loop only
        self._spans: deque[bytes] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="tripoint-spans", daemon=True)
        self._thread.start()

    def add(self, span: OpenSpan, end_ns: int) -> None:
        if len(self._spans) >= MAX_QUEUE:
            self.dropped += 1
            return
        encoded = span_fields(
            span.name,
            span.kind,
            span.context,
            parent=span.parent,
            times=(span.start_ns, end_ns),
            attributes=span.attributes,
            events=span.events,
            status=span.status,
            memo=self._memo,
        )
        self._spans.append(orjson.dumps(encoded))  # deque appends are thread-safe
        if len(self._spans) >= MAX_BATCH:
            self._wake.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(INTERVAL)
            self._wake.clear()
            self._drain()
        self._drain()
        if self.dropped:
            log.warning("spans dropped: the export queue was full", extra={"spans": self.dropped})

    def _drain(self) -> None:
        while self._spans:
            batch = [self._spans.popleft() for _ in range(min(MAX_BATCH, len(self._spans)))]
            self._post(self._head + b",".join(batch) + self._tail, len(batch))
