"""The bedrock case: FakeBedrock (SigV4-checking) and a backend with static keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tests.fakes.bedrock_upstream import ACCESS_KEY, REGION, SECRET_KEY, FakeBedrock
from tests.fakes.eventstream import encode_events
from tests.fakes.loopback import fixture_json
from tests.providers.cloud.case import Conversation, Expected, ProviderCase, Turn
from tripoint.config.schema import BedrockBackend
from tripoint.schema.chunks import Usage

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
TIMEOUTS = {"connect": 1, "first_byte": 1, "idle": 0.5, "total": 10}


def bedrock_backend(url: str, secrets: Path, *, secret: str = SECRET_KEY) -> BedrockBackend:
    (secrets / "aws_key_id").write_text(ACCESS_KEY)
    (secrets / "aws_secret").write_text(secret)
    return BedrockBackend.model_validate(
        {
            "type": "bedrock",
            "region": REGION,
            "base_url": url,
            "access_key_id": f"file:{secrets / 'aws_key_id'}",
            "secret_access_key": f"file:{secrets / 'aws_secret'}",
            "timeouts": TIMEOUTS,
        }
    )


def read_converse(body: Any) -> Conversation:
    system = "\n".join(block["text"] for block in body.get("system", [])) or None
    turns = []
    for message in body["messages"]:
        texts, calls, results = [], [], []
        for block in message["content"]:
            if "text" in block:
                texts.append(block["text"])
            elif "toolUse" in block:
                calls.append((block["toolUse"]["name"], block["toolUse"]["input"]))
            elif "toolResult" in block:
                result = block["toolResult"]
                text = "".join(part.get("text", "") for part in result["content"])
                results.append((result["toolUseId"], text))
        turns.append(Turn(message["role"], tuple(texts), tuple(calls), tuple(results)))
    return Conversation(system, tuple(turns))


def stream_body(scenario: str) -> bytes:
    return encode_events(fixture_json("bedrock", f"converse_stream_{scenario}.json"))


def clean_cut(scenario: str) -> int:
    """Drop messageStop and metadata: every frame whole, the answer unfinished."""
    events = fixture_json("bedrock", f"converse_stream_{scenario}.json")
    return len(encode_events(events[:-2]))


def bedrock_case(fake: FakeBedrock, secrets: Path) -> ProviderCase:
    return ProviderCase(
        name="bedrock",
        fake=fake,
        backend=bedrock_backend(fake.url, secrets),
        model=MODEL,
        expected=Expected(
            text="Hello! How can I help you today?",
            usage=Usage(12, 9, 21),
            tool_preamble="Let me check the weather.",
            tool_name="get_weather",
            tool_arguments={"city": "Paris", "unit": "celsius"},
            tool_usage=Usage(87, 41, 128),
        ),
        read=read_converse,
        stream_body=stream_body,
        clean_cut=clean_cut,
        stream_garbage=orjson.dumps({"not": "an event stream"}) * 4,
        stream_content_type="application/vnd.amazon.eventstream",
    )
