"""OAuth 2.0 client-credentials bearer tokens (Microsoft Entra), fetched and cached per backend.

An auth object like the others in `auth.py`: the provider never sees the client secret or the
token. One token is shared by every request of a backend and refreshed shortly before it
expires; concurrent requests wait for a single refresh instead of each fetching one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

import aiohttp
import orjson
from pydantic import SecretStr

from tripoint.errors import UpstreamError
from tripoint.providers.upstream import upstream_errors

ENTRA_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"  # noqa: S105
_REFRESH_MARGIN = 300.0  # seconds before expiry; Entra tokens live 60-90 minutes
_MIN_LIFETIME = 30.0


class ClientCredentialsAuth:
    def __init__(
        self,
        backend: str,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        scope: str,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backend = backend
        self._token_url = token_url
        self._form = {"grant_type": "client_credentials", "client_id": client_id, "scope": scope}
        self._secret = client_secret
        self._timeout = timeout
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth({self._token_url}, client_id={self._form['client_id']})"

    async def start(self) -> None:
        self._client()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def headers(self, method: str, url: str, body: bytes) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {await self.token()}"}

    async def token(self) -> str:
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        async with self._lock:
            # another request may have refreshed it while this one waited
            if self._token is None or self._clock() >= self._refresh_at:
                self._token, lifetime = await self._fetch()
                margin = min(_REFRESH_MARGIN, lifetime / 2)
                self._refresh_at = self._clock() + max(lifetime - margin, 0.0)
            return self._token

    async def _fetch(self) -> tuple[str, float]:
        form = {**self._form, "client_secret": self._secret.get_secret_value()}
        with upstream_errors(f"{self._backend} token endpoint"):
            async with self._client().post(self._token_url, data=form) as response:
                body = await response.read()
        if response.status >= 400:
            raise UpstreamError(
                f"backend {self._backend!r}: the token endpoint refused the client credentials "
                f"({response.status}{_oauth_error(body)})",
                retryable=response.status >= 500,
                upstream_status=response.status,
            )
        return _token_from(self._backend, body)


def _token_from(backend: str, body: bytes) -> tuple[str, float]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    token = payload.get("access_token") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token:
        raise UpstreamError(f"backend {backend!r}: the token endpoint sent no access_token")
    expires = payload.get("expires_in") if isinstance(payload, dict) else None
    try:
        lifetime = float(expires) if expires is not None else 3600.0
    except (TypeError, ValueError):
        lifetime = 3600.0
    return token, max(lifetime, _MIN_LIFETIME)


def _oauth_error(body: bytes) -> str:
    """The RFC 6749 `error` code only: descriptions may echo identifiers we should not log."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    error = payload.get("error") if isinstance(payload, dict) else None
    return f": {error}" if isinstance(error, str) else ""
