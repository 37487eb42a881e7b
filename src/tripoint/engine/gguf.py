"""GGUF text generation through llama.cpp (llama-cpp-python), run inside one worker thread.

Generation drives `Llama.generate` token by token rather than `create_completion`, which
gives exact token counts, a cancel check between tokens and no per-token dict building.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import llama_cpp
from llama_cpp import llama_chat_format

from tripoint.engine.errors import InputTooLongError, InvalidGenerationError, ModelLoadError
from tripoint.engine.spec import ChatTurn, Generation, ModelSpec, Piece
from tripoint.engine.text import TextStream

ChatFormatter = Callable[..., llama_chat_format.ChatFormatterResponse]

# Loading with verbose=False silences llama.cpp by swapping the process's stdout/stderr file
# descriptors (dup2). Two loads at once interleave the swaps and leave the process writing to
# /dev/null for good, so loads are serialised process-wide; the lock guards that global state.
_LOADING = threading.Lock()


class GGUFModel:
    """One loaded instance; used only by the thread that loaded it."""

    def __init__(self, spec: ModelSpec) -> None:
        if not spec.path.is_file():
            raise ModelLoadError(f"model file {spec.path} does not exist")
        try:
            with _LOADING:
                self._llm = llama_cpp.Llama(
                    model_path=str(spec.path),
                    n_ctx=spec.context,
                    n_threads=spec.threads,
                    n_threads_batch=spec.threads,
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"cannot load {spec.path.name}: {exc}") from None
        self._spec = spec
        # llama.cpp may round its context up; the Python-side token buffer keeps the asked size
        self._context = min(spec.context, self._llm.n_ctx())
        self._format = _chat_formatter(self._llm)

    def prompt_tokens(
        self, prompt: str | tuple[ChatTurn, ...]
    ) -> tuple[list[int], tuple[str, ...]]:
        """The prompt as tokens, and the stop strings the chat format implies."""
        if isinstance(prompt, str):
            return self._llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True), ()
        messages = [{"role": turn.role, "content": turn.content} for turn in prompt]
        try:
            formatted = self._format(messages=messages)
        except Exception as exc:  # noqa: BLE001 -- a template may raise anything on odd input
            raise InvalidGenerationError(
                f"the chat template rejected the messages: {exc}"
            ) from None
        stop = formatted.stop
        stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
        tokens = self._llm.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )
        return tokens, stops

    def generate(
        self, generation: Generation, emit: Callable[[object], None], cancelled: threading.Event
    ) -> None:
        tokens, implied_stops = self.prompt_tokens(generation.prompt)
        room = self._context - len(tokens)
        if room < 1:
            raise InputTooLongError(
                f"the prompt is {len(tokens)} tokens; this model's context is {self._context}"
            )
        limit = min(generation.max_tokens or self._spec.max_tokens, room)
        if generation.seed is not None:
            self._llm.set_seed(generation.seed)
        text = TextStream(generation.stop + implied_stops)
        produced, finish = 0, "length"
        held, sent = "", 0.0
        vocab = self._llm._model.vocab  # the end-of-generation test needs it
        temperature = (
            self._spec.temperature if generation.temperature is None else generation.temperature
        )
        for token in self._llm.generate(tokens, temp=temperature, top_p=generation.top_p):
            if cancelled.is_set():
                return
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                finish = "stop"
                break
            produced += 1
            held += text.feed(self._llm.detokenize([token]))
            # Tokens within `stream_interval` of the last send go out together: on a fast
            # model a wake-up of the event loop per token costs a quarter of the throughput.
            if held and time.perf_counter() - sent >= self._spec.stream_interval:
                emit(Piece(held))
                held, sent = "", time.perf_counter()
            if text.stopped:
                finish = "stop"
                break
            if produced >= limit:
                break
        emit(Piece(held + text.flush(), finish, len(tokens), produced))


def _chat_formatter(llm: llama_cpp.Llama) -> ChatFormatter:
    """The model's own chat template when its GGUF has one, else llama.cpp's llama-2 format."""
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return _llama2
    eos, bos = llm.token_eos(), llm.token_bos()
    vocab = llm._model  # token texts for the template's variables
    return llama_chat_format.Jinja2ChatFormatter(
        template=template,
        eos_token=vocab.token_get_text(eos) if eos != -1 else "",
        bos_token=vocab.token_get_text(bos) if bos != -1 else "",
        stop_token_ids=[eos],
    )


def _llama2(*, messages: list[dict[str, str]]) -> llama_chat_format.ChatFormatterResponse:
    """llama-cpp-python's own fallback for models without a template."""
    response: llama_chat_format.ChatFormatterResponse = llama_chat_format.format_llama2(
        messages=messages
    )
    return response
