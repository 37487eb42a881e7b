"""One pooled aiohttp session per backend: keep-alive, timeouts, credentials, error mapping.

Transport failures become `UpstreamError` here, at the boundary where they occur, so no
aiohttp exception ever reaches a stage or a client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import aiohttp
import orjson
from opentelemetry import propagate

from tripoint.config.schema import Timeouts
from tripoint.errors import TripointError, UpstreamError, UpstreamTimeoutError
from tripoint.providers.auth import UpstreamAuth
from tripoint.providers.sse import ServerSentEvent, SSEDecoder
from tripoint.schema.json import JSON

_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
_SSE_HEADERS = {"Content-Type": "application/json", "Accept": "text/event-stream"}


@contextmanager
def upstream_errors(backend: str) -> Iterator[None]:
    """Turn transport failures into UpstreamError, the only error the router retries."""
    try:
        yield
    except TripointError:
        raise
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise UpstreamTimeoutError(f"backend {backend!r} timed out") from exc
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamError(f"backend {backend!r} is unreachable") from exc
    except aiohttp.ClientPayloadError as exc:
        raise UpstreamError(
            f"backend {backend!r} sent a truncated response", maybe_processed=True
        ) from exc
    except (aiohttp.ClientError, OSError) as exc:
        # connected, then reset or closed: the request may have been received and acted on
        raise UpstreamError(
            f"backend {backend!r} failed: {type(exc).__name__}", maybe_processed=True
        ) from exc


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    """The status and headers of an answer whose body has not been read yet."""

    status: int
    headers: Mapping[str, str]  # case-insensitive
    raw: aiohttp.ClientResponse

    async def json(self) -> JSON:
        body = await self.raw.read()
        try:
            parsed: JSON = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                f"upstream answered {self.status} with a body that is not JSON "
                f"({self.headers.get('content-type', 'no content type')})"
            ) from None
        return parsed

    async def text(self, limit: int = 4096) -> str:
        body = await self.raw.content.read(limit)
        return body.decode("utf-8", errors="replace")

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        decoder = SSEDecoder()
        async for data in self.raw.content.iter_any():
            for event in decoder.feed(data):
                yield event
        if decoder.pending:
            raise UpstreamError("upstream event stream ended in the middle of an event")

    async def lines(self) -> AsyncIterator[bytes]:
        """Newline-delimited records (NDJSON streams), a cut final line included."""
        async for line in self.raw.content:
            if stripped := line.strip():
                yield stripped


class Upstream:
    """A backend's HTTP client. Created per backend at start-up, closed at shutdown."""

    def __init__(
        self,
        name: str,
        base_url: str,
        auth: UpstreamAuth,
        timeouts: Timeouts,
        *,
        max_connections: int = 256,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._auth = auth
        self._timeouts = timeouts
        self._max_connections = max_connections
        self._headers = headers or {}
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                # idle connections are dropped before common servers' keep-alive (uvicorn: 5 s)
                # closes them, so a POST rarely meets a stale connection it cannot retry
                limit=self._max_connections,
                ttl_dns_cache=300,
                keepalive_timeout=4,
            )
            timeout = aiohttp.ClientTimeout(
                total=self._timeouts.total,
                sock_connect=self._timeouts.connect,
                sock_read=self._timeouts.idle,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                headers=self._headers,
                auto_decompress=True,
                raise_for_status=False,
                # never keep an upstream's cookies: one caller's would be sent for the next
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent",),
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @asynccontextmanager
    async def post(
        self, path: str, payload: JSON, *, stream: bool = False, accept: str | None = None
    ) -> AsyncIterator[UpstreamResponse]:
        """POST JSON; the body is read inside the block, with errors mapped at this boundary.

        `accept` overrides the Accept header for streams that are not SSE (AWS event streams).
        """
        if self._session is None:
            raise UpstreamError(f"backend {self.name!r} is not started", retryable=False)
        url = self.base_url + path
        body = orjson.dumps(payload)
        headers = dict(_SSE_HEADERS if stream else _JSON_HEADERS)
        if accept is not None:
            headers["Accept"] = accept
        propagate.inject(headers)  # W3C traceparent of the current attempt span, if traced
        with upstream_errors(self.name):  # credential fetches (token endpoints) fail here too
            headers.update(await self._auth.headers("POST", url, body))
            async with asyncio.timeout(self._timeouts.first_byte):
                response = await self._session.post(url, data=body, headers=headers)
            try:
                yield UpstreamResponse(response.status, response.headers, response)
            except BaseException:
                response.close()  # never hand a half-read connection back to the pool
                raise
            else:
                response.release()

    @asynccontextmanager
    async def get(self, path: str) -> AsyncIterator[UpstreamResponse]:
        if self._session is None:
            raise UpstreamError(f"backend {self.name!r} is not started", retryable=False)
        url = self.base_url + path
        headers: dict[str, str] = {}
        propagate.inject(headers)
        with upstream_errors(self.name):
            headers.update(await self._auth.headers("GET", url, b""))
            async with asyncio.timeout(self._timeouts.first_byte):
                response = await self._session.get(url, headers=headers)
            try:
                yield UpstreamResponse(response.status, response.headers, response)
            except BaseException:
                response.close()  # never hand a half-read connection back to the pool
                raise
            else:
                response.release()
