"""Incremental decoder for AWS `application/vnd.amazon.eventstream` frames. Pure: fed bytes.

A message is a 12-byte prelude (total length, headers length, CRC32 of those 8 bytes), the
headers, the payload, and a CRC32 of everything before it. Bytes may arrive split anywhere;
whole messages come out only once every byte of them has arrived and both checksums agree.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from zlib import crc32

from tripoint.errors import UpstreamError

_PRELUDE = struct.Struct(">III")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_PRELUDE_LENGTH = 12
_CRC_LENGTH = 4
_MIN_MESSAGE = _PRELUDE_LENGTH + _CRC_LENGTH
# the limits AWS documents for event stream messages; larger means a corrupt length field
_MAX_HEADERS = 128 * 1024
_MAX_PAYLOAD = 24 * 1024 * 1024

HeaderValue = bool | int | bytes | str | uuid.UUID


@dataclass(frozen=True, slots=True)
class EventMessage:
    headers: Mapping[str, HeaderValue]
    payload: bytes

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value if isinstance(value, str) else None


class EventStreamError(UpstreamError):
    """The byte stream is not a valid event stream (bad length, checksum or header)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"upstream event stream is corrupt: {message}", retryable=False)


class EventStreamDecoder:
    """Feed bytes as they arrive; get whole, checksum-verified messages."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> bool:
        """True when part of a message is held: the stream stopped mid-frame."""
        return bool(self._buffer)

    def feed(self, data: bytes) -> list[EventMessage]:
        self._buffer += data
        messages: list[EventMessage] = []
        while len(self._buffer) >= _PRELUDE_LENGTH:
            total, headers_length = _check_prelude(self._buffer)
            if len(self._buffer) < total:
                break
            frame = bytes(self._buffer[:total])
            del self._buffer[:total]
            messages.append(_message(frame, headers_length))
        return messages


def _check_prelude(buffer: bytearray) -> tuple[int, int]:
    total, headers_length, prelude_crc = _PRELUDE.unpack_from(buffer)
    if crc32(buffer[:8]) != prelude_crc:
        raise EventStreamError("prelude checksum mismatch")
    if headers_length > _MAX_HEADERS:
        raise EventStreamError(f"headers length {headers_length} exceeds {_MAX_HEADERS}")
    if total < _MIN_MESSAGE + headers_length:
        raise EventStreamError(f"message length {total} is shorter than its parts")
    if total - _MIN_MESSAGE - headers_length > _MAX_PAYLOAD:
        raise EventStreamError(f"payload exceeds {_MAX_PAYLOAD} bytes")
    return total, headers_length


def _message(frame: bytes, headers_length: int) -> EventMessage:
    (message_crc,) = _U32.unpack_from(frame, len(frame) - _CRC_LENGTH)
    if crc32(frame[:-_CRC_LENGTH]) != message_crc:
        raise EventStreamError("message checksum mismatch")
    headers_end = _PRELUDE_LENGTH + headers_length
    headers = _headers(frame[_PRELUDE_LENGTH:headers_end])
    return EventMessage(headers, frame[headers_end:-_CRC_LENGTH])


# value type -> (struct format, size) for the fixed-size header values
_FIXED = {2: (">b", 1), 3: (">h", 2), 4: (">i", 4), 5: (">q", 8), 8: (">q", 8)}


def _headers(data: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    at, end = 0, len(data)
    try:
        while at < end:
            name_end = at + 1 + data[at]
            name = data[at + 1 : name_end].decode("utf-8")
            headers[name], at = _header_value(data, name_end + 1, data[name_end])
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise EventStreamError(f"malformed header block ({type(exc).__name__})") from None
    return headers


def _header_value(data: bytes, at: int, kind: int) -> tuple[HeaderValue, int]:
    if kind == 7:  # strings (:event-type, :content-type, ...): nearly every header
        (length,) = _U16.unpack_from(data, at)
        end = at + 2 + length
        if end > len(data):
            raise IndexError(end)
        return data[at + 2 : end].decode("utf-8"), end
    if kind in (0, 1):
        return kind == 0, at
    if kind in _FIXED:
        fmt, size = _FIXED[kind]
        if at + size > len(data):
            raise IndexError(at)
        return int(struct.unpack_from(fmt, data, at)[0]), at + size
    if kind == 6:
        (length,) = _U16.unpack_from(data, at)
        raw = data[at + 2 : at + 2 + length]
        if len(raw) != length:
            raise IndexError(at)
        return raw, at + 2 + length
    if kind == 9:
        raw = data[at : at + 16]
        if len(raw) != 16:
            raise IndexError(at)
        return uuid.UUID(bytes=raw), at + 16
    raise EventStreamError(f"unknown header value type {kind}")
