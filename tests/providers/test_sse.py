"""The SSE decoder yields the same events however the bytes are split."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from tripoint.providers.sse import ServerSentEvent, SSEDecoder

STREAM = (
    b'event: message_start\r\ndata: {"a": "\xc3\xa9t\xc3\xa9"}\r\n\r\n'
    b": keep-alive comment\n\n"
    b"data: line one\ndata: line two\n\n"
    b"id: 7\nevent: ping\ndata: {}\n\n"
    b"data:no-space\r\r"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    ServerSentEvent('{"a": "été"}', "message_start"),
    ServerSentEvent("line one\nline two"),
    ServerSentEvent("{}", "ping", "7"),
    ServerSentEvent("no-space", "message", "7"),
    ServerSentEvent("[DONE]", "message", "7"),
]


def decode(pieces: list[bytes]) -> tuple[list[ServerSentEvent], bool]:
    decoder = SSEDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    return events, decoder.pending


def test_whole_stream_decodes() -> None:
    assert decode([STREAM]) == (EXPECTED, False)


def test_split_at_every_byte_offset_gives_the_same_events() -> None:
    for cut in range(len(STREAM) + 1):
        assert decode([STREAM[:cut], STREAM[cut:]]) == (EXPECTED, False), cut


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_split_anywhere_gives_the_same_events(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(STREAM)]
    pieces = [STREAM[a:b] for a, b in itertools.pairwise(bounds)]

    assert decode(pieces) == (EXPECTED, False)


def test_stream_cut_mid_event_is_pending() -> None:
    events, pending = decode([b'data: {"a": 1}\n\ndata: {"b"'])

    assert events == [ServerSentEvent('{"a": 1}')]
    assert pending
