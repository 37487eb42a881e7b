"""Encode AWS event stream messages (for fakes and decoder tests): the wire format by hand.

Kept independent of the decoder under test; botocore's decoder cross-checks it in the tests.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from zlib import crc32

import orjson

HeaderValue = bool | int | bytes | str | uuid.UUID


def encode_header(name: str, value: HeaderValue, kind: int | None = None) -> bytes:
    raw_name = name.encode()
    head = struct.pack(">B", len(raw_name)) + raw_name
    if isinstance(value, bool):
        return head + struct.pack(">B", 0 if value else 1)
    if isinstance(value, str):
        data = value.encode()
        return head + struct.pack(">BH", 7, len(data)) + data
    if isinstance(value, bytes):
        return head + struct.pack(">BH", 6, len(value)) + value
    if isinstance(value, uuid.UUID):
        return head + struct.pack(">B", 9) + value.bytes
    kind = kind or 4
    fmt = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}[kind]
    return head + struct.pack(">B", kind) + struct.pack(fmt, value)


def encode_message(headers: Mapping[str, HeaderValue] | bytes, payload: bytes) -> bytes:
    block = (
        headers
        if isinstance(headers, bytes)
        else b"".join(encode_header(k, v) for k, v in headers.items())
    )
    total = 12 + len(block) + len(payload) + 4
    prelude = struct.pack(">II", total, len(block))
    prelude += struct.pack(">I", crc32(prelude))
    body = prelude + block + payload
    return body + struct.pack(">I", crc32(body))


def encode_events(events: Iterable[Mapping[str, Any]]) -> bytes:
    """Fixture events (`{"event": name, "payload": {...}}` or `{"exception": name, ...}`)
    framed as ConverseStream sends them."""
    frames = []
    for event in events:
        payload = orjson.dumps(event["payload"])
        if "exception" in event:
            headers = {
                ":message-type": "exception",
                ":exception-type": event["exception"],
                ":content-type": "application/json",
            }
        else:
            headers = {
                ":event-type": event["event"],
                ":content-type": "application/json",
                ":message-type": "event",
            }
        frames.append(encode_message(headers, payload))
    return b"".join(frames)
