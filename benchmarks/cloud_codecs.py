"""Per-request costs the cloud providers add: event-stream decoding (ours vs botocore's
decoder, side by side on the same bytes) and SigV4 signing.

Run: .venv/bin/python -m benchmarks.cloud_codecs
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from botocore.eventstream import EventStreamBuffer
from pydantic import SecretStr

from tests.fakes.eventstream import encode_events
from tripoint.providers.bedrock.eventstream import EventStreamDecoder
from tripoint.providers.bedrock.signing import AwsSigV4Auth

EVENTS = 2000  # text deltas in one streamed answer
READ = 4096  # bytes per socket read, a typical aiohttp chunk


def stream_bytes() -> bytes:
    deltas = [
        {
            "event": "contentBlockDelta",
            "payload": {"contentBlockIndex": 0, "delta": {"text": f" word{i}"}, "p": "abcdefgh"},
        }
        for i in range(EVENTS)
    ]
    return encode_events(deltas)


def best_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def decode_ours(data: bytes) -> int:
    decoder = EventStreamDecoder()
    return sum(len(decoder.feed(data[at : at + READ])) for at in range(0, len(data), READ))


def decode_botocore(data: bytes) -> int:
    buffer = EventStreamBuffer()
    count = 0
    for at in range(0, len(data), READ):
        buffer.add_data(data[at : at + READ])
        count += sum(1 for _ in buffer)
    return count


def sign_many(count: int) -> float:
    auth = AwsSigV4Auth(
        "us-east-1", access_key_id=SecretStr("AKIDBENCH"), secret_access_key=SecretStr("secret")
    )
    body = b'{"messages": [{"role": "user", "content": [{"text": "Hello"}]}]}' * 4
    url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"

    async def run() -> float:
        start = time.perf_counter()
        for _ in range(count):
            await auth.headers("POST", url, body)
        return time.perf_counter() - start

    return asyncio.run(run())


def main() -> None:
    data = stream_bytes()
    assert decode_ours(data) == decode_botocore(data) == EVENTS
    ours = best_of(7, lambda: decode_ours(data))
    theirs = best_of(7, lambda: decode_botocore(data))
    print(f"event stream: {EVENTS} events, {len(data)} bytes in {READ}-byte reads")
    print(f"  tripoint EventStreamDecoder  {ours * 1e6 / EVENTS:7.2f} us/event")
    print(f"  botocore EventStreamBuffer   {theirs * 1e6 / EVENTS:7.2f} us/event")
    print(f"  ratio botocore/tripoint      {theirs / ours:7.2f}x")
    signing = sign_many(2000)
    print(f"SigV4 signing (botocore signer): {signing * 1e6 / 2000:7.1f} us/request")


if __name__ == "__main__":
    main()
