"""The AWS event stream decoder: whole frames only, split anywhere, checksums enforced."""

from __future__ import annotations

import itertools
import struct
import uuid
from zlib import crc32

import pytest
from botocore.eventstream import EventStreamBuffer
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.eventstream import encode_events, encode_header, encode_message
from tests.fakes.loopback import fixture_json
from tripoint.providers.bedrock.eventstream import (
    EventMessage,
    EventStreamDecoder,
    EventStreamError,
)

STREAM = encode_events(fixture_json("bedrock", "tool_call.events.json"))


def decode(*pieces: bytes) -> list[EventMessage]:
    decoder = EventStreamDecoder()
    messages = [m for piece in pieces for m in decoder.feed(piece)]
    assert not decoder.pending
    return messages


def botocore_decode(data: bytes) -> list[tuple[dict[str, object], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(dict(m.headers), m.payload) for m in buffer]


def as_pairs(messages: list[EventMessage]) -> list[tuple[dict[str, object], bytes]]:
    return [(dict(m.headers), m.payload) for m in messages]


def test_decodes_a_recorded_stream_as_botocore_does() -> None:
    messages = decode(STREAM)

    assert len(messages) == 12
    assert as_pairs(messages) == botocore_decode(STREAM)
    assert messages[4].header(":event-type") == "contentBlockStart"


def test_decodes_the_same_messages_whatever_the_split_point() -> None:
    whole = as_pairs(decode(STREAM))

    for at in range(len(STREAM) + 1):
        assert as_pairs(decode(STREAM[:at], STREAM[at:])) == whole, f"split at byte {at}"


def test_decodes_a_stream_fed_one_byte_at_a_time() -> None:
    pieces = [STREAM[i : i + 1] for i in range(len(STREAM))]

    assert as_pairs(decode(*pieces)) == as_pairs(decode(STREAM))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=30))
def test_decodes_the_same_messages_for_any_set_of_split_points(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(STREAM)]
    pieces = [STREAM[a:b] for a, b in itertools.pairwise(bounds)]

    assert as_pairs(decode(*pieces)) == as_pairs(decode(STREAM))


def test_decodes_every_header_value_type_as_botocore_does() -> None:
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    block = b"".join(
        [
            encode_header("yes", value=True),
            encode_header("no", value=False),
            encode_header("byte", -7, kind=2),
            encode_header("short", -300, kind=3),
            encode_header("int", 70000),
            encode_header("long", 2**40, kind=5),
            encode_header("bytes", b"\x00\x01\xff"),
            encode_header("string", "caf\u00e9"),
            encode_header("time", 1_700_000_000_000, kind=8),
            encode_header("uuid", ident),
        ]
    )
    frame = encode_message(block, b"payload")

    (message,) = decode(frame)

    assert dict(message.headers) == {
        "yes": True,
        "no": False,
        "byte": -7,
        "short": -300,
        "int": 70000,
        "long": 2**40,
        "bytes": b"\x00\x01\xff",
        "string": "caf\u00e9",
        "time": 1_700_000_000_000,
        "uuid": ident,
    }
    ((theirs, payload),) = botocore_decode(frame)
    assert payload == b"payload"
    assert theirs["uuid"] == ident.bytes  # botocore leaves a uuid as its 16 bytes
    assert {k: v for k, v in theirs.items() if k != "uuid"} == {
        k: v for k, v in message.headers.items() if k != "uuid"
    }


def test_holds_a_partial_frame_as_pending() -> None:
    decoder = EventStreamDecoder()

    messages = decoder.feed(STREAM[:-3])

    assert len(messages) == 11
    assert decoder.pending


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda f: flip(f, 2), "prelude checksum"),  # total length
        (lambda f: flip(f, 9), "prelude checksum"),  # the prelude CRC itself
        (lambda f: flip(f, 20), "message checksum"),  # inside the headers
        (lambda f: flip(f, len(f) - 6), "message checksum"),  # inside the payload
        (lambda f: flip(f, len(f) - 1), "message checksum"),  # the message CRC itself
    ],
    ids=["length", "prelude-crc", "headers", "payload", "message-crc"],
)
def test_rejects_a_damaged_frame(damage: object, reason: str) -> None:
    frame = encode_message({":event-type": "messageStop"}, b'{"stopReason":"end_turn"}')

    with pytest.raises(EventStreamError, match=reason):
        EventStreamDecoder().feed(damage(frame))  # type: ignore[operator]


def test_rejects_a_frame_whose_lengths_do_not_add_up() -> None:
    prelude = struct.pack(">II", 16, 100)  # 100 bytes of headers in a 16-byte message
    frame = prelude + struct.pack(">I", crc32(prelude)) + b"\x00" * 4

    with pytest.raises(EventStreamError, match="shorter than its parts"):
        EventStreamDecoder().feed(frame)


def test_rejects_a_header_block_that_overruns_itself() -> None:
    block = b"\x05:type\x07\x00\xff" + b"short"  # a string header claiming 255 bytes
    frame = encode_message(block, b"{}")

    with pytest.raises(EventStreamError, match="malformed header"):
        EventStreamDecoder().feed(frame)


def test_rejects_an_unknown_header_type() -> None:
    frame = encode_message(b"\x01x\x0e", b"{}")

    with pytest.raises(EventStreamError, match="unknown header value type 14"):
        EventStreamDecoder().feed(frame)


def test_rejects_json_text_that_is_not_an_event_stream() -> None:
    with pytest.raises(EventStreamError):
        EventStreamDecoder().feed(b'{"message": "Internal Server Error", "more": "text"}')


@pytest.mark.parametrize(
    ("total", "headers", "reason"),
    [
        (16 + 200 * 1024, 200 * 1024, "headers length"),
        (16 + 25 * 1024 * 1024, 0, "payload exceeds"),
    ],
    ids=["headers", "payload"],
)
def test_rejects_an_oversized_frame_from_its_prelude_alone(
    total: int, headers: int, reason: str
) -> None:
    prelude = struct.pack(">II", total, headers)
    prelude += struct.pack(">I", crc32(prelude))

    with pytest.raises(EventStreamError, match=reason):
        EventStreamDecoder().feed(prelude)  # no waiting for megabytes that will never be valid
