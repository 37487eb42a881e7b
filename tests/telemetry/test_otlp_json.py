"""OTLP/JSON export: the same document OpenTelemetry's protobuf encoder describes, delivered."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import orjson
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.trace.status import Status, StatusCode

from tests.conftest import gateway_settings
from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread
from tripoint.config.schema import TelemetrySettings, TracingSettings
from tripoint.gateway.assembly import assemble
from tripoint.telemetry.otlp_json import export_request
from tripoint.telemetry.span_queue import JsonSpanQueue
from tripoint.telemetry.spans import OpenSpan

RESOURCE = Resource.create({"service.name": "tripoint", "deployment.environment": "test"})
SCOPE = InstrumentationScope("tripoint", "0.1.0")
REMOTE = SpanContext(0xABC, 0x123, is_remote=True, trace_flags=TraceFlags(1))


def span(**overrides: Any) -> ReadableSpan:
    fields: dict[str, Any] = {
        "name": "chat chat-default",
        "context": SpanContext(
            0x4BF92F3577B34DA6A3CE929D0E0E4736,
            0x00F067AA0BA902B7,
            is_remote=False,
            trace_flags=TraceFlags(1),
            trace_state=TraceState([("vendor", "x")]),
        ),
        "parent": REMOTE,
        "resource": RESOURCE,
        "attributes": {
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.request.temperature": 0.5,
            "gen_ai.request.stream": True,
            "gen_ai.response.finish_reasons": ("stop", "length"),
        },
        "events": (Event("tripoint.guardrail", {"guardrail": "pii"}, 1_700_000_000_000),),
        "kind": SpanKind.SERVER,
        "status": Status(StatusCode.ERROR, "upstream_error"),
        "start_time": 1_700_000_000_000_000_000,
        "end_time": 1_700_000_000_500_000_000,
        "instrumentation_scope": SCOPE,
    }
    fields.update(overrides)
    return ReadableSpan(**fields)


def protobuf_as_otlp_json(spans: list[ReadableSpan]) -> dict[str, Any]:
    """OpenTelemetry's own encoding, in OTLP/JSON form: proto3 JSON with hex ids."""
    document = MessageToDict(encode_spans(spans), use_integers_for_enums=True)

    def hexify(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: base64.b64decode(v).hex()
                if k in {"traceId", "spanId", "parentSpanId"}
                else hexify(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [hexify(v) for v in node]
        return node

    result: dict[str, Any] = hexify(document)
    return result


@pytest.mark.parametrize(
    "spans",
    [
        [span()],
        [span(parent=None, status=Status(StatusCode.UNSET), events=(), kind=SpanKind.CLIENT)],
        [span(attributes={}), span(kind=SpanKind.INTERNAL, name="tripoint.limits")],
    ],
)
def test_encodes_spans_as_the_protobuf_encoder_describes_them(spans: list[ReadableSpan]) -> None:
    ours = orjson.loads(orjson.dumps(export_request(spans)))

    assert ours == protobuf_as_otlp_json(spans)


class Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, dict[str, Any]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], orjson.loads(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, dict[str, Any]]]]]:
    received: list[tuple[str, str, dict[str, Any]]] = []
    handler = type("Handler", (Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", received
    server.shutdown()


def test_a_configured_gateway_ships_its_spans_to_the_collector(
    upstream: FakeOpenAI, collector: tuple[str, list[tuple[str, str, dict[str, Any]]]]
) -> None:
    endpoint, received = collector
    tracing = TracingSettings(otlp_endpoint=endpoint)  # type: ignore[arg-type]
    settings = gateway_settings(upstream.base_url).model_copy(
        update={"telemetry": TelemetrySettings(tracing=tracing)}
    )
    server = GatewayThread(settings, gateway=assemble(settings)).start()
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    client.chat.completions.create(
        model="chat-default", messages=[{"role": "user", "content": "hi"}]
    )

    server.stop()  # shutdown flushes the batch

    (path, content_type, document) = received[0]
    assert (path, content_type) == ("/v1/traces", "application/json")
    spans = [s for rs in document["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    assert sorted(s["name"] for s in spans) == [
        "chat chat-default",
        "chat upstream-chat",
        "tripoint.limits",
    ]
    resource = {
        a["key"]: a["value"] for a in document["resourceSpans"][0]["resource"]["attributes"]
    }
    assert resource["service.name"] == {"stringValue": "tripoint"}


def test_the_span_queue_posts_the_same_document_the_encoder_describes(
    collector: tuple[str, list[tuple[str, str, dict[str, Any]]]],
) -> None:
    endpoint, received = collector
    queue = JsonSpanQueue(endpoint, {"x-tenant": "t1"}, RESOURCE, SCOPE)
    recorded = [
        OpenSpan(
            name=s.name,
            kind=s.kind,
            context=s.context,  # type: ignore[arg-type]
            parent=s.parent,
            start_ns=s.start_time or 0,
            attributes=dict(s.attributes or {}),
            events=list(s.events),
            status=s.status,
        )
        for s in (span(), span(kind=SpanKind.CLIENT, parent=None, events=()))
    ]
    expected = [span(), span(kind=SpanKind.CLIENT, parent=None, events=())]

    for open_span, finished in zip(recorded, expected, strict=True):
        queue.add(open_span, finished.end_time or 0)
    queue.shutdown()

    (path, content_type, document) = received[0]
    assert (path, content_type) == ("/v1/traces", "application/json")
    assert document == protobuf_as_otlp_json(expected)
