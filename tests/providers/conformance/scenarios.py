"""The OpenAI-shaped requests every provider case is driven with."""

from __future__ import annotations

from typing import Any

import orjson

from tripoint.schema.requests import ChatRequest

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a given city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
ARGUMENTS = '{"city": "Paris", "unit": "celsius"}'
WEATHER_QUESTION = {"role": "user", "content": "What is the weather in Paris?"}
WEATHER_CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {
            "id": "call_weather_1",
            "type": "function",
            "function": {
                "name": "get_weather",
                "arguments": '{"city": "Paris", "unit": "celsius"}',
            },
        }
    ],
}
WEATHER_RESULT = {
    "role": "tool",
    "tool_call_id": "call_weather_1",
    "content": '{"temperature_c": 18, "sky": "clear"}',
}

SCENARIOS: dict[str, dict[str, Any]] = {
    "plain": {"messages": [{"role": "user", "content": "Hello!"}]},
    "multi_turn": {
        "messages": [
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Nice to meet you, Ada!"},
            {"role": "user", "content": "What is my name?"},
        ],
        "stop": "END",
    },
    "system": {
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "Hello!"},
        ],
        "max_tokens": 256,
        "temperature": 0.2,
    },
    "tools": {"messages": [WEATHER_QUESTION], "tools": [WEATHER_TOOL], "tool_choice": "auto"},
    "tool_result": {
        "messages": [WEATHER_QUESTION, WEATHER_CALL, WEATHER_RESULT],
        "tools": [WEATHER_TOOL],
    },
    "stream": {"messages": [{"role": "user", "content": "Hello!"}], "stream": True},
}


def request(scenario: str, *, stream: bool | None = None) -> ChatRequest:
    body: dict[str, Any] = {"model": "chat-default", **SCENARIOS[scenario]}
    if stream is not None:
        body["stream"] = stream
    return ChatRequest.model_validate_json(orjson.dumps(body))  # as the HTTP edge parses
