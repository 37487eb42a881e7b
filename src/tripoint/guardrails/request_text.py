"""Every piece of text a request sends (messages, content parts, tool calls and results,
prompts, embedding inputs), and the same request rebuilt with some of them replaced."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tripoint.errors import InvalidRequestError
from tripoint.schema.requests import (
    ChatRequest,
    CompletionRequest,
    ContentPart,
    EmbeddingRequest,
    Message,
    Prompt,
    ToolCall,
)

Request = ChatRequest | CompletionRequest | EmbeddingRequest


@dataclass(frozen=True, slots=True)
class TextField:
    """One text of a request. `role` is the chat role (a prompt or input counts as `user`)."""

    role: str
    text: str


def text_fields(request: Request) -> list[TextField]:
    if isinstance(request, ChatRequest):
        return [field for message in request.messages for field in _message_fields(message)]
    if isinstance(request, CompletionRequest):
        return [TextField("user", t) for t in _prompt_texts(request.prompt, "prompt")]
    return [TextField("user", t) for t in _prompt_texts(request.input, "input")]


def with_texts(request: Request, texts: Sequence[str]) -> Request:
    """`request` with its text fields (in `text_fields` order) replaced by `texts`."""
    queue = iter(texts)
    if isinstance(request, ChatRequest):
        messages = [_replace_message(m, queue) for m in request.messages]
        return request.model_copy(update={"messages": messages})
    if isinstance(request, CompletionRequest):
        return request.model_copy(update={"prompt": _replace_prompt(request.prompt, queue)})
    return request.model_copy(update={"input": _replace_prompt(request.input, queue)})


def _message_fields(message: Message) -> list[TextField]:
    fields: list[TextField] = []
    if isinstance(message.content, str):
        fields.append(TextField(message.role, message.content))
    elif message.content:
        fields.extend(TextField(message.role, p.text) for p in message.content if p.text)
    fields.extend(
        TextField(message.role, call.function.arguments) for call in message.tool_calls or ()
    )
    return fields


def _replace_message(message: Message, texts: Iterator[str]) -> Message:
    update: dict[str, object] = {}
    if isinstance(message.content, str):
        update["content"] = next(texts)
    elif message.content:
        update["content"] = [_replace_part(p, texts) for p in message.content]
    if message.tool_calls:
        update["tool_calls"] = [_replace_call(c, next(texts)) for c in message.tool_calls]
    return message.model_copy(update=update) if update else message


def _replace_part(part: ContentPart, texts: Iterator[str]) -> ContentPart:
    if not part.text:
        return part
    return part.model_copy(update={"text": next(texts)})


def _replace_call(call: ToolCall, arguments: str) -> ToolCall:
    return call.model_copy(
        update={"function": call.function.model_copy(update={"arguments": arguments})}
    )


def _prompt_texts(prompt: Prompt, param: str) -> list[str]:
    if isinstance(prompt, str):
        return [prompt]
    if all(isinstance(p, str) for p in prompt):
        return [p for p in prompt if isinstance(p, str)]
    raise InvalidRequestError(
        "Token-id inputs cannot be inspected by the guardrails configured for this model; "
        "send text instead.",
        param=param,
    )


def _replace_prompt(prompt: Prompt, texts: Iterator[str]) -> Prompt:
    if isinstance(prompt, str):
        return next(texts)
    return [next(texts) for _ in prompt]
