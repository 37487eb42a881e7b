"""Legacy text completions (`/v1/completions`) served by a chat-only backend.

Anthropic, Cohere, Bedrock Converse and Gemini have no text-completion API. As LiteLLM and
Portkey do, the gateway asks such a backend's chat API with the prompt as one user message
and answers in the completions shape. What chat cannot express is refused with a 400 rather
than approximated: token-id prompts, several prompts in one call, `echo`, `suffix` and
`logprobs`.
"""

from __future__ import annotations

from dataclasses import replace

from tripoint.errors import InvalidRequestError
from tripoint.providers.base import ChatProvider, ChatStream
from tripoint.providers.target import Target
from tripoint.schema.requests import ChatRequest, CompletionRequest

_UNSUPPORTED = ("echo", "suffix", "logprobs")


def as_chat(request: CompletionRequest, backend: str) -> ChatRequest:
    prompt = request.prompt
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise InvalidRequestError(
            f"backend {backend!r} serves completions through its chat API: "
            "send one text prompt (not token ids, nor several prompts)",
            param="prompt",
        )
    for name in _UNSUPPORTED:
        if getattr(request, name) not in (None, False):
            raise InvalidRequestError(
                f"backend {backend!r} serves completions through its chat API, "
                f"which has no {name!r}",
                param=name,
            )
    fields = request.model_dump(exclude_none=True, exclude={"prompt", *_UNSUPPORTED})
    fields["messages"] = [{"role": "user", "content": prompt}]
    return ChatRequest.model_validate(fields)


async def complete_via_chat(
    provider: ChatProvider, request: CompletionRequest, target: Target
) -> ChatStream:
    """The chat answer as completion chunks: no role, no empty opening piece."""
    async for chunk in provider.chat(as_chat(request, target.backend.name), target):
        choices = tuple(replace(c, role=None) for c in chunk.choices if c.text or c.finish_reason)
        if choices or chunk.usage is not None:
            yield replace(chunk, choices=choices)
