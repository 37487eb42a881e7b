"""A loopback aiohttp server in its own thread, with scripted replies: the base of the cloud
fakes. A reply names a recorded fixture or a failure (status, raw garbage, delay, a stream
cut or stalled at a byte offset, a body written in small pieces)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.app_thread import AppThread

FIXTURES = Path(__file__).parent.parent / "providers" / "fixtures"


@dataclass
class Reply:
    scenario: str = "text"  # which recorded answer: "text", "tool_call", ...
    status: int = 200
    body: bytes | None = None  # raw bytes instead of the fixture (garbage tests)
    content_type: str | None = None  # overrides the fixture's content type
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the status line
    piece: int | None = None  # write the body in pieces of this many bytes
    cut_at: int | None = None  # close the connection after this many body bytes (<0: from end)
    stall_at: int | None = None  # go silent after this many body bytes


@dataclass
class Seen:
    path: str
    raw_path: str
    body: Any
    headers: dict[str, str]


class LoopbackServer(AppThread):
    name = "fake"

    def __init__(self) -> None:
        self.calls: list[Seen] = []
        self.replies: list[Reply] = []
        self._release: asyncio.Event | None = None  # set: stalled replies end

    # scripting ---------------------------------------------------------------------------
    def then(self, **fields: Any) -> LoopbackServer:
        self.replies.append(Reply(**fields))
        return self

    def reset(self) -> None:
        self.calls.clear()
        self.replies.clear()
        self._release_stalls()

    def _release_stalls(self) -> None:
        if self._loop and self._release:
            release = self._release
            self._loop.call_soon_threadsafe(release.set)

    def stop(self) -> None:
        self._release_stalls()
        super().stop()

    # answering ---------------------------------------------------------------------------
    async def record(self, request: web.Request) -> tuple[bytes, Reply]:
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = raw
        self.calls.append(Seen(request.path, request.raw_path, body, dict(request.headers)))
        reply = self.replies.pop(0) if self.replies else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return raw, reply

    async def send(
        self,
        request: web.Request,
        reply: Reply,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> web.StreamResponse:
        """Write `body` as the reply says: whole, in pieces, cut or stalled."""
        if reply.body is not None:
            body = reply.body
        response = web.StreamResponse(
            status=reply.status,
            headers={
                "Content-Type": reply.content_type or content_type,
                **(headers or {}),
                **reply.headers,
            },
        )
        await response.prepare(request)
        end = len(body)
        if reply.cut_at is not None:
            end = reply.cut_at if reply.cut_at >= 0 else len(body) + reply.cut_at
        if reply.stall_at is not None:
            end = reply.stall_at
        step = reply.piece or max(end, 1)
        for at in range(0, end, step):
            await response.write(body[at : min(at + step, end)])
            if reply.piece:
                await asyncio.sleep(0)  # let each piece reach the socket on its own
        if reply.stall_at is not None:
            self._release = (
                self._release if self._release and not self._release.is_set() else asyncio.Event()
            )
            await self._release.wait()
            return response
        if reply.cut_at is not None:
            assert request.transport is not None
            request.transport.close()  # no terminating chunk: the client sees a cut body
            return response
        await response.write_eof()
        return response


def fixture(provider: str, name: str) -> bytes:
    return (FIXTURES / provider / name).read_bytes()


def fixture_json(provider: str, name: str) -> Any:
    return orjson.loads(fixture(provider, name))
