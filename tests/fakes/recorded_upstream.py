"""A loopback upstream that answers each path with a recorded wire fixture, in its own thread.

For end-to-end tests of native (non-OpenAI) backends: the fixture bytes are the provider's
documented wire format, served as they would be (content type, status), and every request
body is kept for the test to read.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(frozen=True)
class Answer:
    body: bytes
    content_type: str = "application/json"
    status: int = 200


@dataclass
class RecordedUpstream:
    answers: dict[str, Answer] = field(default_factory=dict)  # path -> answer
    received: list[tuple[str, bytes]] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._serve, name="recorded-upstream", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RecordedUpstream:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("recorded upstream did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._runner:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, handle_signals=False)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._ready.set()
        self._loop.run_forever()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.received.append((request.path, await request.read()))
        answer = self.answers.get(request.path)
        if answer is None:
            return web.Response(status=404, text="no fixture for this path")
        response = web.StreamResponse(status=answer.status)
        response.content_type = answer.content_type
        await response.prepare(request)
        # line by line, so the client reads a real stream rather than one buffer
        for line in answer.body.splitlines(keepends=True):
            await response.write(line)
        await response.write_eof()
        return response
