"""The vertex case: FakeVertex with its token endpoint, and a service-account key file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fakes.loopback import fixture
from tests.fakes.vertex_upstream import LOCATION, PROJECT, FakeVertex
from tests.providers.cloud.case import Conversation, Expected, ProviderCase, Turn
from tripoint.config.schema import VertexBackend
from tripoint.schema.chunks import Usage

MODEL = "gemini-2.0-flash-001"
TIMEOUTS = {"connect": 1, "first_byte": 1, "idle": 0.5, "total": 10}


def vertex_backend(fake: FakeVertex, secrets: Path) -> VertexBackend:
    key = secrets / "service-account.json"
    key.write_text(fake.account.key_file(fake.token_uri))
    return VertexBackend.model_validate(
        {
            "type": "vertex",
            "project": PROJECT,
            "location": LOCATION,
            "base_url": fake.url + "/v1",
            "service_account": f"file:{key}",
            "timeouts": TIMEOUTS,
        }
    )


def read_gemini(body: Any) -> Conversation:
    instruction = body.get("systemInstruction")
    system = "\n".join(p["text"] for p in instruction["parts"]) if instruction else None
    turns = []
    for content in body["contents"]:
        texts, calls, results = [], [], []
        for part in content["parts"]:
            if "text" in part:
                texts.append(part["text"])
            elif "functionCall" in part:
                calls.append((part["functionCall"]["name"], part["functionCall"]["args"]))
            elif "functionResponse" in part:
                response = part["functionResponse"]
                results.append((response["name"], str(response["response"].get("content"))))
        role = "assistant" if content["role"] == "model" else content["role"]
        turns.append(Turn(role, tuple(texts), tuple(calls), tuple(results)))
    return Conversation(system, tuple(turns))


def stream_body(scenario: str) -> bytes:
    return fixture("vertex", f"stream_{scenario}.sse")


def clean_cut(scenario: str) -> int:
    """Drop the last event (the one with finishReason): whole events, unfinished answer."""
    return fixture("vertex", f"stream_{scenario}.sse").rfind(b"data:")


def vertex_case(fake: FakeVertex, secrets: Path) -> ProviderCase:
    return ProviderCase(
        name="vertex",
        fake=fake,
        backend=vertex_backend(fake, secrets),
        model=MODEL,
        expected=Expected(
            text="Hello! How can I help you today?",
            usage=Usage(12, 9, 21),
            tool_preamble="Let me check the weather.",
            tool_name="get_weather",
            tool_arguments={"city": "Paris", "unit": "celsius"},
            tool_usage=Usage(87, 41, 128),
        ),
        read=read_gemini,
        stream_body=stream_body,
        clean_cut=clean_cut,
        stream_garbage=b"data: {not json at all\r\n\r\n",
        stream_content_type="text/event-stream",
    )
