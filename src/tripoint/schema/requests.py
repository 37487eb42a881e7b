"""OpenAI wire requests, parsed once at the edge.

Lenient about unknown fields (kept and passed through to upstreams that understand them),
strict about the types of the fields we know, so a wrong type is a 400, never a 500.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, strict=True)


class FunctionCall(Lenient):
    name: str
    arguments: str


class ToolCall(Lenient):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ContentPart(Lenient):
    type: str
    text: str | None = None


class Message(Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        """All the text a reader of this message sees (for guardrails and token counts)."""
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "\n".join(part.text for part in self.content if part.text)


class FunctionSpec(Lenient):
    name: str = Field(min_length=1)
    description: str | None = None


class Tool(Lenient):
    type: Literal["function"]
    function: FunctionSpec


class StreamOptions(Lenient):
    include_usage: bool = False


class ResponseFormat(Lenient):
    type: Literal["text", "json_object", "json_schema"]


class Sampling(Lenient):
    """Fields shared by chat and text completions."""

    model: str = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    n: int = Field(default=1, ge=1, le=128)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = None

    @property
    def wants_usage_in_stream(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatRequest(Sampling):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, object] | None = None
    response_format: ResponseFormat | None = None


Prompt = str | list[str] | list[int] | list[list[int]]


class CompletionRequest(Sampling):
    prompt: Prompt
    echo: bool | None = None
    logprobs: int | None = Field(default=None, ge=0, le=5)
    suffix: str | None = None


class EmbeddingRequest(Lenient):
    model: str = Field(min_length=1)
    input: Prompt

    @field_validator("input")
    @classmethod
    def _not_empty(cls, value: Prompt) -> Prompt:
        if not value or (isinstance(value, list) and any(not item for item in value)):
            raise ValueError("input must not be empty (nor contain empty items)")
        return value

    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None


InferenceRequest = ChatRequest | CompletionRequest | EmbeddingRequest
