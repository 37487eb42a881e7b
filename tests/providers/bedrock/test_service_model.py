"""Our Bedrock wire bodies and fixtures, checked against AWS's own service model as shipped
in botocore: requests pass botocore's parameter validator, and recorded answers and event
streams parse with the AWS SDK's own response parser to what our codec reads from them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
import orjson
import pytest
from botocore import parsers
from botocore.exceptions import EventStreamError
from botocore.validate import ParamValidator

from tests.fakes.eventstream import encode_events
from tests.fakes.loopback import fixture_json
from tripoint.providers.bedrock import codec
from tripoint.schema.requests import ChatRequest

MODEL = botocore.session.get_session().get_service_model("bedrock-runtime")
TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}
REQUESTS: dict[str, dict[str, Any]] = {
    "tool-round-trip": fixture_json("", "openai_tool_round_trip.json"),
    "plain": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    "sampling": {
        "model": "m",
        "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": "hi"},
        ],
        "max_completion_tokens": 5,
        "temperature": 0,
        "top_p": 1,
        "stop": "x",
    },
    "required-tool": {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [TOOL],
        "tool_choice": "required",
    },
    "named-tool": {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [TOOL],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    },
}


class RawStream:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self) -> Iterator[bytes]:
        yield self._data


def parse(operation: str, body: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = parsers.create_parser("rest-json").parse(
        {"status_code": 200, "headers": {}, "body": body, "context": {"operation_name": operation}},
        MODEL.operation_model(operation).output_shape,
    )
    return parsed


@pytest.mark.parametrize("operation", ["Converse", "ConverseStream"])
@pytest.mark.parametrize("name", list(REQUESTS))
def test_request_bodies_pass_the_service_model_validator(name: str, operation: str) -> None:
    body = codec.to_wire(ChatRequest.model_validate(REQUESTS[name]))

    report = ParamValidator().validate(
        {"modelId": "anthropic.claude-3-5-haiku-20241022-v1:0", **body},
        MODEL.operation_model(operation).input_shape,
    )

    assert not report.has_errors(), report.generate_report()


@pytest.mark.parametrize("scenario", ["text", "tool_call"])
def test_recorded_answers_parse_with_the_aws_sdk_parser(scenario: str) -> None:
    answer = fixture_json("bedrock", f"{scenario}.json")

    parsed = parse("Converse", orjson.dumps(answer))

    ours = codec.chunk_from_wire(answer)
    blocks = parsed["output"]["message"]["content"]
    assert "".join(b.get("text", "") for b in blocks) == ours.choices[0].text
    assert parsed["usage"]["totalTokens"] == ours.usage.total_tokens  # type: ignore[union-attr]


@pytest.mark.parametrize("scenario", ["text", "tool_call", "stream_error"])
def test_recorded_streams_parse_with_the_aws_sdk_event_stream_parser(scenario: str) -> None:
    events = fixture_json("bedrock", f"{scenario}.events.json")

    parsed = parse("ConverseStream", RawStream(encode_events(events)))
    seen: list[str] = []
    try:
        seen.extend(next(iter(event)) for event in parsed["stream"])
    except EventStreamError as exc:
        seen.append(exc.response["Error"]["Code"])

    assert seen == [e.get("event") or e["exception"] for e in events]


@pytest.mark.parametrize("operation", ["Converse", "ConverseStream"])
def test_guardrail_config_passes_the_service_model_validator(operation: str) -> None:
    guardrail: dict[str, Any] = {
        "guardrailIdentifier": "gr-abc123",
        "guardrailVersion": "3",
        "trace": "enabled",
        "streamProcessingMode": "async",
    }
    chat = {**REQUESTS["plain"], "stream": operation == "ConverseStream"}

    body = codec.to_wire(ChatRequest.model_validate(chat), guardrail)

    report = ParamValidator().validate(
        {"modelId": "m", **body}, MODEL.operation_model(operation).input_shape
    )
    assert not report.has_errors(), report.generate_report()
    assert ("streamProcessingMode" in body["guardrailConfig"]) is (operation == "ConverseStream")  # type: ignore[operator]
