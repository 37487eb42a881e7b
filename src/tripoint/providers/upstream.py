"""One pooled HTTP/1.1 client per backend: keep-alive, timeouts, credentials, error mapping.

Transport failures become `UpstreamError` here, at the boundary where they occur, so no
transport exception ever reaches a stage or a client. (aiohttp's are mapped too: the token
endpoints of `oauth.py` use it.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import aiohttp
import orjson
import yarl
from opentelemetry import propagate

from tripoint.config.schema import Timeouts
from tripoint.errors import TripointError, UpstreamError, UpstreamTimeoutError
from tripoint.providers import http1
from tripoint.providers.auth import UpstreamAuth
from tripoint.providers.sse import ServerSentEvent, SSEDecoder
from tripoint.schema.json import JSON

_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
_SSE_HEADERS = {"Content-Type": "application/json", "Accept": "text/event-stream"}
_TARGETS_CACHED = 1024  # request targets remembered per backend (paths come from config)


@contextmanager
def upstream_errors(backend: str) -> Iterator[None]:
    """Turn transport failures into UpstreamError, the only error the router retries."""
    try:
        yield
    except TripointError:
        raise
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise UpstreamTimeoutError(f"backend {backend!r} timed out") from exc
    except http1.UntrustedCertificateError as exc:
        # an operator's mistake, not an outage: say which, and how to trust a private CA
        raise UpstreamError(
            f"backend {backend!r}: its TLS certificate is not trusted ({exc}); "
            "to trust a private CA, point SSL_CERT_FILE at a bundle that holds it"
        ) from exc
    except (http1.ConnectError, aiohttp.ClientConnectorError) as exc:
        raise UpstreamError(f"backend {backend!r} is unreachable") from exc
    except (http1.TruncatedError, aiohttp.ClientPayloadError) as exc:
        raise UpstreamError(
            f"backend {backend!r} sent a truncated response", maybe_processed=True
        ) from exc
    except (http1.ProtocolError, aiohttp.ClientError, OSError) as exc:
        # connected, then reset or closed: the request may have been received and acted on
        raise UpstreamError(
            f"backend {backend!r} failed: {type(exc).__name__}", maybe_processed=True
        ) from exc


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    """The status and headers of an answer whose body has not been read yet."""

    status: int
    headers: Mapping[str, str]  # case-insensitive
    raw: http1.Response

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
        body = await self.raw.read(limit)
        return body.decode("utf-8", errors="replace")

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives (binary event streams)."""
        return self.raw.chunks()

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        decoder = SSEDecoder()
        read = self.raw.read_some
        while (data := await read()) is not None:
            for event in decoder.feed(data):
                yield event
        if decoder.pending:
            raise UpstreamError("upstream event stream ended in the middle of an event")

    async def lines(self) -> AsyncIterator[bytes]:
        """Newline-delimited records (NDJSON streams), a cut final line included."""
        rest = b""
        async for data in self.raw.chunks():
            *whole, rest = (rest + data).split(b"\n")
            for line in whole:
                if stripped := line.strip():
                    yield stripped
        if stripped := rest.strip():
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
        origin = yarl.URL(self.base_url)
        host = origin.raw_host or ""
        if ":" in host:
            host = f"[{host}]"  # an IPv6 literal
        self._host = host if origin.explicit_port is None else f"{host}:{origin.port}"
        self._origin = origin
        self._targets: dict[str, str] = {}
        self._pool: http1.Pool | None = None

    async def start(self) -> None:
        if self._pool is None:
            self._pool = http1.Pool(
                self._origin.scheme,
                self._origin.raw_host or "",
                self._origin.port or 80,
                limit=self._max_connections,
                connect_timeout=self._timeouts.connect,
            )

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def post(
        self, path: str, payload: JSON, *, stream: bool = False, accept: str | None = None
    ) -> AsyncIterator[UpstreamResponse]:
        """POST JSON; the body is read inside the block, with errors mapped at this boundary.

        `accept` overrides the Accept header for streams that are not SSE (AWS event streams).
        """
        headers = dict(_SSE_HEADERS if stream else _JSON_HEADERS)
        if accept is not None:
            headers["Accept"] = accept
        with upstream_errors(self.name):  # credential fetches (token endpoints) fail here too
            response = await self._send("POST", path, orjson.dumps(payload), headers)
            try:
                yield UpstreamResponse(response.status, response.headers, response)
            except BaseException:
                response.close()  # never hand a half-read connection back to the pool
                raise
            else:
                response.release()

    @asynccontextmanager
    async def get(self, path: str) -> AsyncIterator[UpstreamResponse]:
        with upstream_errors(self.name):
            response = await self._send("GET", path, b"", {})
            try:
                yield UpstreamResponse(response.status, response.headers, response)
            except BaseException:
                response.close()
                raise
            else:
                response.release()

    async def _send(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> http1.Response:
        """Send the request; returns once the answer's head has arrived."""
        pool = self._pool
        if pool is None:
            raise UpstreamError(f"backend {self.name!r} is not started", retryable=False)
        url = self.base_url + path
        propagate.inject(headers)  # W3C traceparent of the current attempt span, if traced
        headers.update(await self._auth.headers(method, url, body))
        head = http1.request_head(
            method, self._target(url), self._host, {**self._headers, **headers}, len(body)
        )
        timeouts = self._timeouts
        return await pool.request(
            head,
            body,
            head_timeout=timeouts.first_byte,
            idle=timeouts.idle,
            total=timeouts.total,
        )

    def _target(self, url: str) -> str:
        """The request target as sent: yarl's normalised form, the one AWS SigV4 signs."""
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) >= _TARGETS_CACHED:
                self._targets.clear()
            target = self._targets[url] = yarl.URL(url).raw_path_qs
        return target
