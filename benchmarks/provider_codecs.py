"""Stream decoding cost per provider, side by side: recorded fixtures through SSE + codec.

Run: .venv/bin/python benchmarks/provider_codecs.py [--rounds N]
Prints microseconds per stream and per event for each provider's text and tool-call stream
fixtures, and the ratio to the `openai` codec measured in the same run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from tripoint.providers.anthropic import codec as anthropic
from tripoint.providers.cohere import codec as cohere
from tripoint.providers.openai import codec as openai
from tripoint.providers.sse import SSEDecoder
from tripoint.schema.chunks import ChatChunk

FIXTURES = Path(__file__).parent.parent / "tests" / "providers" / "fixtures"


def decode_openai(raw: bytes) -> int:
    chunks = 0
    for event in SSEDecoder().feed(raw):
        if event.data != openai.DONE and openai.chunk_from_event(event) is not None:
            chunks += 1
    return chunks


def decoder_of(
    make: Callable[[], anthropic.StreamDecoder | cohere.StreamDecoder],
) -> Callable[[bytes], int]:
    def decode(raw: bytes) -> int:
        decoder = make()
        produced: list[ChatChunk] = []
        for event in SSEDecoder().feed(raw):
            produced.extend(decoder.feed(event))
        return len(produced)

    return decode


DECODERS: dict[str, Callable[[bytes], int]] = {
    "openai": decode_openai,
    "anthropic": decoder_of(lambda: anthropic.StreamDecoder("bench")),
    "cohere": decoder_of(cohere.StreamDecoder),
}


def batch(decode: Callable[[bytes], int], raw: bytes, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        decode(raw)
    return (time.perf_counter() - started) / rounds * 1e6


def measure(raws: dict[str, bytes], rounds: int, batches: int = 7) -> dict[str, float]:
    """Best batch per provider, batches interleaved so machine load hits all alike."""
    best = dict.fromkeys(raws, float("inf"))
    for _ in range(batches):
        for provider, raw in raws.items():
            best[provider] = min(best[provider], batch(DECODERS[provider], raw, rounds))
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)  # per batch
    rounds = parser.parse_args().rounds
    header = ("fixture", "provider", "events", "us/stream", "us/event", "vs openai")
    print("{:<15}{:<11}{:>7}{:>11}{:>10}{:>11}".format(*header))
    for fixture in ("text.sse", "tool_call.sse"):
        raws = {p: (FIXTURES / p / fixture).read_bytes() for p in DECODERS}
        timings = measure(raws, rounds)
        baseline = None
        for provider, per_stream in timings.items():
            events = len(SSEDecoder().feed(raws[provider]))
            baseline = baseline or per_stream / events
            ratio = (per_stream / events) / baseline
            print(
                f"{fixture:<15}{provider:<11}{events:>7}{per_stream:>11.1f}"
                f"{per_stream / events:>10.2f}{ratio:>10.2f}x"
            )


if __name__ == "__main__":
    main()
