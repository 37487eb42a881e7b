"""OTLP/HTTP with JSON encoding: finished spans to a collector's `/v1/traces`.

The same mapping as OpenTelemetry's protobuf encoder, written as plain dicts for orjson
(the OTLP JSON rules: lowerCamelCase names, hex trace and span ids, enums as integers,
64-bit integers as decimal strings, default values omitted). Spans are encoded as they
close (span_queue.py) and posted in batches by a background thread.
"""

from __future__ import annotations

import base64
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind
from opentelemetry.trace.status import Status

log = logging.getLogger("tripoint.telemetry")

JSONValue = dict[str, object]
HAS_IS_REMOTE = 0x100  # SpanFlags: the flags say whether the parent is remote
IS_REMOTE = 0x200
MEMO_SIZE = 4096
MEMO_VALUE_CHARS = 128
UNIQUE = frozenset({"tripoint.request_id", "gen_ai.input.messages", "gen_ai.output.messages"})


def any_value(value: object) -> JSONValue:
    kind = type(value)  # exact types first: this runs for every attribute of every span
    if kind is str:
        return {"stringValue": value}
    if kind is int:
        return {"intValue": str(value)}  # int64 travels as a decimal string
    if kind is bool:
        return {"boolValue": value}
    if kind is float:
        return {"doubleValue": value}
    return _other_value(value)


_SUBCLASSES: tuple[tuple[type, str, Callable[[Any], object]], ...] = (
    (bool, "boolValue", bool),  # before int: a bool is an int to Python
    (str, "stringValue", str),
    (int, "intValue", lambda v: str(int(v))),
    (float, "doubleValue", float),
)


def _other_value(value: object) -> JSONValue:
    for kind, name, cast in _SUBCLASSES:  # an enum member or other subclass of a scalar
        if isinstance(value, kind):
            return {name: cast(value)}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": key_values(value)}}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {}


def key_values(
    attributes: Mapping[str, object] | None, memo: dict[tuple[str, object], JSONValue] | None = None
) -> list[JSONValue]:
    """Attributes as OTLP KeyValues. With `memo`, a recurring (key, short string or bool)
    pair is encoded once and shared: most attributes repeat from call to call."""
    if memo is None:
        return [{"key": k, "value": any_value(v)} for k, v in (attributes or {}).items()]
    encoded = []
    for key, value in (attributes or {}).items():
        if (type(value) is str and len(value) <= MEMO_VALUE_CHARS and key not in UNIQUE) or (
            type(value) is bool
        ):
            item = memo.get((key, value))
            if item is None:
                if len(memo) >= MEMO_SIZE:
                    memo.clear()
                item = memo[(key, value)] = {"key": key, "value": any_value(value)}
            encoded.append(item)
        else:
            encoded.append({"key": key, "value": any_value(value)})
    return encoded


def span_json(
    span: ReadableSpan, memo: dict[tuple[str, object], JSONValue] | None = None
) -> JSONValue:
    context = span.get_span_context()
    if context is None:
        return {}
    return span_fields(
        span.name,
        span.kind,
        context,
        parent=span.parent,
        times=(span.start_time or 0, span.end_time or 0),
        attributes=span.attributes,
        events=span.events,
        status=span.status,
        memo=memo,
    )


def span_fields(
    name: str,
    kind: SpanKind,
    context: SpanContext,
    *,
    parent: SpanContext | None,
    times: tuple[int, int],
    attributes: Mapping[str, object] | None,
    events: Sequence[Event],
    status: Status,
    memo: dict[tuple[str, object], JSONValue] | None = None,
) -> JSONValue:
    """One OTLP Span, from a finished SDK span or straight from a recorded one."""
    body: JSONValue = {
        "traceId": format(context.trace_id, "032x"),
        "spanId": format(context.span_id, "016x"),
        "name": name,
        # `_value_`, not `.value`: the enum property costs more than the rest of the field
        "kind": kind._value_ + 1,  # the SDK counts from INTERNAL=0, OTLP from UNSPECIFIED=0
        "startTimeUnixNano": str(times[0]),
        "endTimeUnixNano": str(times[1]),
        "flags": _flags(parent),
    }
    if context.trace_state:
        body["traceState"] = ",".join(f"{k}={v}" for k, v in context.trace_state.items())
    if parent is not None:
        body["parentSpanId"] = format(parent.span_id, "016x")
    if attributes:
        body["attributes"] = key_values(attributes, memo)
    if events:
        body["events"] = [
            {
                "timeUnixNano": str(e.timestamp),
                "name": e.name,
                **({"attributes": key_values(e.attributes)} if e.attributes else {}),
            }
            for e in events
        ]
    encoded_status: JSONValue = {}
    code = status.status_code._value_
    if code:
        encoded_status["code"] = code
    if status.description:
        encoded_status["message"] = status.description
    body["status"] = encoded_status
    return body


def export_request(
    spans: Sequence[ReadableSpan], memo: dict[tuple[str, object], JSONValue] | None = None
) -> JSONValue:
    """The ExportTraceServiceRequest, grouped by resource and instrumentation scope."""
    grouped: dict[int, tuple[ReadableSpan, dict[tuple[str, str | None], list[JSONValue]]]] = {}
    for span in spans:
        scope = span.instrumentation_scope
        scope_key = (scope.name, scope.version) if scope else ("", None)
        entry = grouped.setdefault(id(span.resource), (span, {}))
        entry[1].setdefault(scope_key, []).append(span_json(span, memo))
    resource_spans = []
    for first, scopes in grouped.values():
        scope_spans = []
        for (name, version), encoded in scopes.items():
            described: JSONValue = {"name": name} if name else {}
            if version:
                described["version"] = version
            scope_spans.append({"scope": described, "spans": encoded})
        resource = {"attributes": key_values(first.resource.attributes)}
        resource_spans.append({"resource": resource, "scopeSpans": scope_spans})
    return {"resourceSpans": resource_spans}


class Poster:
    """POSTs one encoded export request; a failure is logged and the batch dropped."""

    def __init__(self, endpoint: str, headers: Mapping[str, str], timeout: float) -> None:
        self._endpoint = endpoint
        self._headers = {**headers, "Content-Type": "application/json"}
        self._timeout = timeout

    def __call__(self, body: bytes, spans: int) -> bool:
        request = urllib.request.Request(  # noqa: S310 -- the URL is config, http(s) only
            self._endpoint, data=body, headers=self._headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                response.read()
        except (urllib.error.URLError, OSError) as exc:
            log.warning("span export failed", extra={"error": type(exc).__name__, "spans": spans})
            return False
        return True


def _flags(parent: SpanContext | None) -> int:
    return HAS_IS_REMOTE | (IS_REMOTE if parent is not None and parent.is_remote else 0)
