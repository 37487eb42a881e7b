"""Chat messages to the one prompt string TGI's native API takes. Pure.

TGI's `/generate` has no notion of messages: the gateway writes the chat template itself.
Built-in templates cover the common formats; a backend may configure its own.
"""

from __future__ import annotations

from tripoint.config.schema import PromptTemplate
from tripoint.errors import InvalidRequestError
from tripoint.schema.requests import Message

TEMPLATES: dict[str, PromptTemplate] = {
    "chatml": PromptTemplate(
        turn="<|im_start|>{role}\n{content}<|im_end|>\n",
        generation="<|im_start|>assistant\n",
        stop=("<|im_end|>",),
    ),
    "llama3": PromptTemplate(
        bos="<|begin_of_text|>",
        turn="<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>",
        generation="<|start_header_id|>assistant<|end_header_id|>\n\n",
        stop=("<|eot_id|>",),
    ),
    "plain": PromptTemplate(turn="{role}: {content}\n", generation="assistant:", stop=("\nuser:",)),
}


def resolve(template: str | PromptTemplate) -> PromptTemplate:
    return TEMPLATES[template] if isinstance(template, str) else template


def render(messages: list[Message], template: PromptTemplate) -> str:
    """`bos`, each message as a `turn`, then `generation` to open the assistant's answer."""
    parts = [template.bos]
    for message in messages:
        if message.tool_calls or message.role in ("tool", "function"):
            raise InvalidRequestError(
                "the tgi backend type has no tool calls; route tools to TGI's OpenAI "
                "route (`type: openai`, base_url .../v1) instead",
                param="messages",
            )
        role = "system" if message.role == "developer" else message.role
        # role first: a message's text must never be read as a placeholder
        parts.append(template.turn.replace("{role}", role).replace("{content}", message.text()))
    parts.append(template.generation)
    return "".join(parts)
