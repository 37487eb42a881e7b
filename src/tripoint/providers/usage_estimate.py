"""Usage for an answer whose backend reported none.

OpenAI-compatible servers report usage in a stream only when they honour
`stream_options.include_usage` (Tripoint always asks); some (older llama.cpp and vLLM builds,
some proxies) do not, and a few omit usage from whole answers too. Without usage, budgets
would keep the worst-case reservation, and the ledger, the metrics and a client that asked
for usage would get none. So the answer's text is counted with cl100k_base instead: an
estimate (the model's own tokenizer may differ), used only where the backend said nothing
(the provider logs it once per backend).
"""

from __future__ import annotations

from tripoint.providers.tokens import TokenCounter
from tripoint.schema.chunks import ChatChunk, Usage
from tripoint.schema.requests import ChatRequest, CompletionRequest


class UsageEstimate:
    """Watches one answer's chunks; at its end, the usage to add if none was reported."""

    def __init__(self, counter: TokenCounter, request: ChatRequest | CompletionRequest) -> None:
        self._counter = counter
        self._request = request
        self._pieces: list[str] = []
        self._last: ChatChunk | None = None  # the usage chunk carries the stream's id
        self.reported = False

    def see(self, chunk: ChatChunk) -> None:
        self._last = chunk
        if chunk.usage is not None:
            self.reported = True
            return
        for choice in chunk.choices:
            if choice.text:
                self._pieces.append(choice.text)
            for call in choice.tool_calls:
                self._pieces.append((call.name or "") + (call.arguments or ""))

    def missing(self) -> ChatChunk | None:
        """A usage-only chunk with the estimate, or None when the backend reported usage."""
        if self.reported:
            return None
        if not self._counter.ready_now:
            self._counter.warm()  # this answer is estimated coarsely; the next ones precisely
        prompt = self._counter.prompt_tokens(self._request)
        completion = self._counter.count_text("".join(self._pieces))
        usage = Usage(prompt, completion, prompt + completion)
        last = self._last
        return ChatChunk(
            usage=usage,
            id=last.id if last is not None else None,
            created=last.created if last is not None else None,
        )
