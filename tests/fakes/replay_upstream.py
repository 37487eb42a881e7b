"""A loopback upstream that replays recorded wire fixtures and records what it received.

Provider-agnostic: it answers any method and path with the next queued `Reply` (bytes as
recorded from the provider's documented wire format), optionally dribbled in small pieces,
stalled, delayed, cut mid-body or reset. A path given a standing reply (an OAuth token
endpoint, say) is answered with it every time, outside the queue and the record. It runs
in its own thread and event loop, so tests drive it from a provider in the test's loop, from
the gateway thread, or from sync code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.app_thread import AppThread


@dataclass(frozen=True)
class Reply:
    """One scripted answer. `body` is written as is: a JSON document or a whole stream."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the response headers
    piece: int | None = None  # write the body in pieces of this many bytes (reads split frames)
    stall_after: int | None = None  # bytes written before the upstream goes silent
    reset: bool = False  # close the connection after the body instead of ending it cleanly


@dataclass(frozen=True)
class Seen:
    method: str
    path: str  # with the query string, as sent (percent-escapes kept)
    headers: Mapping[str, str]  # lower-cased names
    body: bytes


@dataclass
class ReplayServer(AppThread):
    replies: list[Reply] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    standing: dict[str, Reply] = field(default_factory=dict)  # path -> its reply, every time
    port: int = 0
    name = "replay-upstream"

    def queue(self, *replies: Reply) -> ReplayServer:
        self.replies.extend(replies)
        return self

    def stand(self, path: str, reply: Reply) -> ReplayServer:
        """Answer `path` with `reply` every time, until reset."""
        self.standing[path] = reply
        return self

    def reset(self) -> None:
        self.replies.clear()
        self.seen.clear()
        self.standing.clear()

    @property
    def last(self) -> Seen:
        assert self.seen, "the upstream received no request"
        return self.seen[-1]

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._answer)

    # answering -----------------------------------------------------------------------------
    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        reply = self.standing.get(request.path)
        if reply is None:
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.seen.append(Seen(request.method, request.raw_path, headers, body))
            if not self.replies:
                return web.Response(status=599, text="the test queued no reply for this request")
            reply = self.replies.pop(0)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        response = web.StreamResponse(status=reply.status, headers=dict(reply.headers))
        response.content_type = reply.content_type
        if reply.piece is None and reply.stall_after is None and not reply.reset:
            response.content_length = len(reply.body)
        await response.prepare(request)
        await self._write(request, response, reply)
        if reply.reset:
            assert request.transport is not None
            request.transport.close()  # abrupt: no terminating chunk
            return response
        await response.write_eof()
        return response

    async def _write(
        self, request: web.Request, response: web.StreamResponse, reply: Reply
    ) -> None:
        data = reply.body
        if reply.stall_after is not None:
            await response.write(data[: reply.stall_after])
            transport = request.transport
            # aiohttp has no event for a peer that went away; poll the transport
            while transport is not None and not transport.is_closing():  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # silent until the client gives up
            return
        step = reply.piece or len(data) or 1
        for start in range(0, len(data), step):
            await response.write(data[start : start + step])
            if reply.piece:
                await asyncio.sleep(0.001)  # let each piece leave as its own read
