"""Serving `/metrics`: the bearer-token check, and the optional listener on its own port."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from pydantic import SecretStr

from tripoint.config.schema import MetricsSettings
from tripoint.telemetry.metrics import Metrics

log = logging.getLogger("tripoint.telemetry")


class Scrape:
    """Answers a scrape: 401 without the configured token, else the exposition."""

    def __init__(self, metrics: Metrics, token: SecretStr | None) -> None:
        self._metrics = metrics
        self._expected = f"Bearer {token.get_secret_value()}".encode() if token else None

    def allows(self, authorization: str | None) -> bool:
        if self._expected is None:
            return True
        given = (authorization or "").encode()
        return hmac.compare_digest(given, self._expected)  # constant time

    def answer(self, authorization: str | None, *, checked: bool = False) -> tuple[int, bytes, str]:
        """(status, body, content type). `checked`: the caller was already authorized (a
        viewer key on a gateway with auth), so the scrape token does not apply."""
        if not checked and not self.allows(authorization):
            return 401, b"unauthorized\n", "text/plain; charset=utf-8"
        body, content_type = self._metrics.exposition()
        return 200, body, content_type


class ScrapeListener:
    """`/metrics` on its own address, so it never shares the public port."""

    def __init__(self, scrape: Scrape, settings: MetricsSettings, *, reuse_port: bool) -> None:
        if settings.port is None:
            raise ValueError("a scrape listener needs telemetry.metrics.port")
        self._scrape = scrape
        self._host = settings.host
        self._port = settings.port
        self._path = settings.path
        self._reuse_port = reuse_port  # several workers share the port; any one answers
        self._runner: web.AppRunner | None = None
        self.port = 0  # the bound port, once started

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(self._path, self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, reuse_port=self._reuse_port or None)
        await site.start()
        self._runner = runner
        server = site._server  # aiohttp exposes the bound sockets only here
        sockets = getattr(server, "sockets", None) or ()
        self.port = sockets[0].getsockname()[1] if sockets else self._port
        log.info("metrics listener started", extra={"host": self._host, "port": self.port})

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        status, body, content_type = self._scrape.answer(request.headers.get("Authorization"))
        response = web.Response(status=status, body=body)
        response.headers["Content-Type"] = content_type
        return response
