"""The server's gathering transport: writes of one loop turn leave together, in order."""

from __future__ import annotations

import asyncio

from tripoint.write_gathering import GatheringTransport


class Recording(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted


async def test_writes_of_one_turn_leave_in_one_write() -> None:
    real = Recording()
    gathering = GatheringTransport(real, asyncio.get_running_loop())

    gathering.write(b"HTTP/1.1 200 OK\r\n\r\n")
    gathering.write(b"body")
    held = list(real.writes)
    await asyncio.sleep(0)
    gathering.write(b"next turn")
    await asyncio.sleep(0)

    assert held == []
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody", b"next turn"]


async def test_close_sends_what_was_written_before_it() -> None:
    real = Recording()
    gathering = GatheringTransport(real, asyncio.get_running_loop())

    gathering.write(b"last words")
    gathering.close()
    await asyncio.sleep(0)

    assert real.writes == [b"last words"]
    assert real.closed


async def test_abort_drops_what_is_held() -> None:
    real = Recording()
    gathering = GatheringTransport(real, asyncio.get_running_loop())

    gathering.write(b"never sent")
    gathering.abort()
    await asyncio.sleep(0)

    assert real.writes == []
    assert real.aborted
