"""OpenAI requests <-> the embedded engine's generations and pieces. Pure: no I/O.

The engine runs plain text models, so what they cannot honour (tools, JSON modes, logprobs,
several choices, token-id prompts) is refused with a 400 naming the field, never ignored.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from tripoint.engine import (
    ChatTurn,
    EngineBusyError,
    EngineClosedError,
    EngineError,
    Generation,
    InputTooLongError,
    InvalidGenerationError,
    ModelLoadError,
    Piece,
)
from tripoint.errors import (
    InvalidRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRejectedError,
)
from tripoint.schema.chunks import ChatChunk, ChoiceDelta, Usage
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest, Sampling


def chat_generation(request: ChatRequest) -> Generation:
    _refuse(request.tools, "tools")
    _refuse(request.logprobs, "logprobs")
    if request.response_format is not None and request.response_format.type != "text":
        _refuse(True, "response_format")
    turns = []
    for i, message in enumerate(request.messages):
        if isinstance(message.content, list) and any(p.type != "text" for p in message.content):
            raise InvalidRequestError(
                "local models take text content only", param=f"messages.{i}.content"
            )
        _refuse(message.tool_calls, f"messages.{i}.tool_calls")
        role = "system" if message.role == "developer" else message.role
        turns.append(ChatTurn(role, message.text()))
    return _generation(request, tuple(turns), request.max_completion_tokens or request.max_tokens)


def completion_generation(request: CompletionRequest) -> Generation:
    _refuse(request.echo, "echo")
    _refuse(request.suffix, "suffix")
    _refuse(request.logprobs, "logprobs")
    prompt = request.prompt
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise InvalidRequestError(
            "local models take one text prompt (not token ids or a list of prompts)",
            param="prompt",
        )
    return _generation(request, prompt, request.max_tokens)


def embedding_texts(request: EmbeddingRequest) -> list[str]:
    _refuse(request.dimensions, "dimensions")
    texts = [request.input] if isinstance(request.input, str) else request.input
    if not texts or not all(isinstance(t, str) for t in texts):
        raise InvalidRequestError(
            "input must be a string or a non-empty list of strings (local models take text)",
            param="input",
        )
    return [t for t in texts if isinstance(t, str)]


def _generation(
    request: Sampling, prompt: str | tuple[ChatTurn, ...], most: int | None
) -> Generation:
    if request.n != 1:
        raise InvalidRequestError("local models answer with one choice (n=1)", param="n")
    stop = (request.stop,) if isinstance(request.stop, str) else tuple(request.stop or ())
    return Generation(
        prompt=prompt,
        max_tokens=most,
        temperature=request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p,
        stop=stop,
        seed=request.seed,
    )


def _refuse(value: object, param: str) -> None:
    if value not in (None, False, 0):
        raise InvalidRequestError(f"local models do not support {param!r}", param=param)


def chunks_from_piece(piece: Piece, *, chat: bool, first: bool) -> Iterator[ChatChunk]:
    """A text piece as one chunk; the last piece also ends the choice and carries usage."""
    role = "assistant" if chat and first else None
    if piece.text or role:
        yield ChatChunk(choices=(ChoiceDelta(role=role, text=piece.text),))
    if piece.finish_reason is not None:
        yield ChatChunk(
            choices=(ChoiceDelta(text="" if not chat else None, finish_reason=piece.finish_reason),)
        )
        total = piece.prompt_tokens + piece.completion_tokens
        yield ChatChunk(usage=Usage(piece.prompt_tokens, piece.completion_tokens, total))


def base64_vector(vector: list[float]) -> str:
    """OpenAI's base64 encoding: the float32 little-endian bytes."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


@contextmanager
def engine_errors(backend: str) -> Iterator[None]:
    """Engine errors as Tripoint's: a full queue is the backend's own quota (429, retried
    elsewhere), a missing model a failed upstream (fallback), a too-long prompt the client's."""
    try:
        yield
    except (InputTooLongError, InvalidGenerationError) as exc:
        raise UpstreamRejectedError(str(exc)) from None
    except EngineBusyError as exc:
        raise UpstreamRateLimitError(f"{backend}: {exc}", retry_after=1.0) from None
    except ModelLoadError as exc:
        hint = "`tripoint models list` shows the model directory; `pull-defaults` fetches defaults"
        raise UpstreamError(f"{backend}: model not available: {exc} ({hint})") from None
    except EngineClosedError as exc:
        raise UpstreamError(f"{backend}: {exc}") from None
    except EngineError as exc:
        raise UpstreamError(f"{backend}: {exc}", retryable=False) from None
