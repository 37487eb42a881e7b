"""System-prompt canaries: a fresh token per call in the system prompt; the model repeating it
means the system prompt is leaking into the answer."""

from __future__ import annotations

import re
import secrets

from tripoint.guardrails.finding import Finding
from tripoint.schema.requests import ChatRequest, Message


def new_token() -> str:
    return f"tpc-{secrets.token_hex(8)}"


class CanaryDetector:
    name = "canary"

    def __init__(self, token: str) -> None:
        self.token = token
        # the hex part alone also counts: a model may drop or respell the prefix
        self._pattern = re.compile(re.escape(token[4:]), re.IGNORECASE) if token else None
        self.longest = len(token)

    def find(self, text: str) -> list[Finding]:
        if self._pattern is None:
            return []
        return [Finding("canary", m.start(), m.end()) for m in self._pattern.finditer(text)]


def plant(request: ChatRequest, token: str) -> ChatRequest | None:
    """`request` with the token added to its first system message; None without one."""
    for i, message in enumerate(request.messages):
        if message.role in {"system", "developer"} and isinstance(message.content, str):
            marked = message.model_copy(
                update={"content": f"{message.content}\n\n(Confidential marker: {token})"}
            )
            messages: list[Message] = [*request.messages[:i], marked, *request.messages[i + 1 :]]
            return request.model_copy(update={"messages": messages})
    return None
