"""Google OAuth access tokens as an upstream auth object, from google-auth.

Credentials are a service-account key (JSON, from a secret reference) or Application Default
Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, workload identity, the metadata server).
google-auth is synchronous: finding and refreshing credentials runs in a thread, one refresh
at a time, and a token is refreshed a few minutes before it expires (google-auth's margin).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import google.auth
import orjson
import urllib3
from google.auth.credentials import Credentials
from google.auth.exceptions import GoogleAuthError, RefreshError
from google.auth.transport.urllib3 import Request
from google.oauth2 import service_account
from pydantic import SecretStr

from tripoint.errors import UpstreamError

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


class GoogleOAuth:
    """`Authorization: Bearer <access token>`, refreshed off the event loop."""

    def __init__(self, service_account_json: SecretStr | None = None) -> None:
        self._key = service_account_json
        self._credentials: Credentials | None = None
        self._http = urllib3.PoolManager(num_pools=2)
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return "GoogleOAuth(***)"

    async def headers(self, method: str, url: str, body: bytes) -> Mapping[str, str]:
        credentials = self._credentials
        if credentials is None or not credentials.valid:
            async with self._lock:
                credentials = self._credentials
                if credentials is None or not credentials.valid:  # not refreshed meanwhile
                    credentials = await asyncio.to_thread(self._refresh)
        return {"Authorization": f"Bearer {credentials.token}"}

    def _refresh(self) -> Credentials:
        """In a worker thread: load credentials once, then fetch a fresh access token."""
        try:
            credentials = self._credentials or self._load()
            credentials.refresh(Request(self._http))  # type: ignore[no-untyped-call]
        except RefreshError:
            # the token endpoint refused these credentials: asking again will not help
            raise UpstreamError(
                "Google refused the credentials (token refresh failed)", retryable=False
            ) from None
        except GoogleAuthError as exc:
            raise UpstreamError(
                f"Google credentials could not be refreshed: {type(exc).__name__}"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise UpstreamError(
                f"Google token endpoint is unreachable: {type(exc).__name__}"
            ) from None
        self._credentials = credentials
        return credentials

    def _load(self) -> Credentials:
        if self._key is None:
            found: tuple[Credentials, Any] = google.auth.default(scopes=SCOPES)
            return found[0]
        try:
            info = orjson.loads(self._key.get_secret_value())
        except orjson.JSONDecodeError:
            raise UpstreamError(
                "the configured service account key is not JSON", retryable=False
            ) from None
        try:
            loaded: Credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=SCOPES
            )
        except (ValueError, KeyError) as exc:
            raise UpstreamError(
                f"the configured service account key is invalid: {type(exc).__name__}",
                retryable=False,
            ) from None
        return loaded
