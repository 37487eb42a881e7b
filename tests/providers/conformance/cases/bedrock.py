"""The `bedrock` backend type against the documented Bedrock Runtime Converse and
ConverseStream wire format: SigV4-signed requests (verified as AWS does, with botocore's
canonicalisation and the secret), JSON answers, and the binary AWS event stream.

Stream fixtures are stored as readable JSON events (`<name>.events.json`, the format of
tests/fakes/eventstream.py) and framed into the binary event stream when replayed; AWS
errors carry their type in the `x-amzn-ErrorType` header, kept in `error_types.json`.
"""

from __future__ import annotations

import struct
from typing import Any
from urllib.parse import quote

import orjson

from tests.fakes.bedrock_upstream import ACCESS_KEY, REGION, SECRET_KEY
from tests.fakes.eventstream import encode_events, encode_message
from tests.fakes.replay_upstream import Seen
from tests.fakes.sigv4 import AwsKey, verify
from tests.providers.conformance.case import FIXTURES, Expected, ProviderCase

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"


def _backend(url: str) -> dict[str, Any]:
    return {
        "type": "bedrock",
        "region": REGION,
        "base_url": url,
        "access_key_id": "env:CONFORMANCE_AWS_KEY_ID",
        "secret_access_key": "env:CONFORMANCE_AWS_SECRET",
    }


def _path(model: str, stream: bool) -> str:
    # the model id is one path segment: '/' (in ARNs) goes escaped; ':' is a valid path
    # character and goes as is (the signature covers the path exactly as sent)
    return f"/model/{quote(model, safe=':')}/{'converse-stream' if stream else 'converse'}"


def _encode(stored: bytes) -> bytes:
    return encode_events(orjson.loads(stored))


def _frames(stream: bytes) -> list[bytes]:
    """An event stream split into its messages, by each prelude's total length."""
    found = []
    while stream:
        (total,) = struct.unpack(">I", stream[:4])
        found.append(stream[:total])
        stream = stream[total:]
    return found


def _corrupt_frame() -> bytes:
    """A well-framed message whose payload was damaged in transit: its CRC no longer holds."""
    frame = bytearray(
        encode_message(
            {":event-type": "contentBlockDelta", ":message-type": "event"},
            b'{"contentBlockIndex": 0, "delta": {"text": "lost"}}',
        )
    )
    frame[-8] ^= 0xFF
    return bytes(frame)


def _signed_by_the_configured_key(seen: Seen) -> None:
    url = f"http://{seen.headers['host']}{seen.path}"
    problem = verify(
        seen.method,
        url,
        seen.headers,
        seen.body,
        keys={ACCESS_KEY: AwsKey(SECRET_KEY)},
        region=REGION,
        service="bedrock",
    )
    assert problem is None, problem
    stream = "converse-stream" in seen.path
    assert seen.headers.get("accept") == (
        "application/vnd.amazon.eventstream" if stream else "application/json"
    )


def _error_types() -> dict[str, dict[str, str]]:
    kinds = orjson.loads((FIXTURES / "bedrock" / "error_types.json").read_bytes())
    return {
        name: {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
        for name, kind in kinds.items()
    }


CASE = ProviderCase(
    name="bedrock",
    backend=_backend,
    model=MODEL,
    path=_path,
    env={"CONFORMANCE_AWS_KEY_ID": ACCESS_KEY, "CONFORMANCE_AWS_SECRET": SECRET_KEY},
    headers={"content-type": "application/json"},
    expected=Expected(
        text="Hello! How can I help you today?",
        usage=(12, 9, 21),
        stream_usage=(12, 9, 21),
        tool_call_id="tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
        tool_arguments={"city": "Paris", "unit": "celsius"},
        error_message="Malformed input request",
    ),
    stream_content_type="application/vnd.amazon.eventstream",
    stream_suffix="events.json",
    encode_stream=_encode,
    frames=_frames,
    garbage_frame=_corrupt_frame(),
    check_request=_signed_by_the_configured_key,
    reply_headers=_error_types(),
)
