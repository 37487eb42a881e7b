"""AWS SigV4 request signing as an upstream auth object, using botocore's own signer.

Credentials come from config secret references or from the standard AWS chain (environment,
shared config and profile, web identity, container and instance roles). Resolving the chain
and refreshing temporary credentials can block on network calls, so both run in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import yarl
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials
from botocore.exceptions import BotoCoreError
from botocore.session import Session
from pydantic import SecretStr

from tripoint.errors import UpstreamError

_SIGNED_OUT = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


class AwsSigV4Auth:
    """Signs each request for one service and region; never shows its secret."""

    def __init__(
        self,
        region: str,
        *,
        service: str = "bedrock",
        access_key_id: SecretStr | None = None,
        secret_access_key: SecretStr | None = None,
        session_token: SecretStr | None = None,
        profile: str | None = None,
        credentials: Any = None,
    ) -> None:
        self.region = region
        self.service = service
        self._profile = profile
        # botocore Credentials or RefreshableCredentials; None: resolve the chain on first use
        self._credentials: Any = credentials
        if access_key_id is not None and secret_access_key is not None:
            self._credentials = Credentials(
                access_key_id.get_secret_value(),
                secret_access_key.get_secret_value(),
                session_token.get_secret_value() if session_token else None,
            )
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"AwsSigV4Auth({self.service}/{self.region}, ***)"

    async def headers(self, method: str, url: str, body: bytes) -> Mapping[str, str]:
        credentials = await self._frozen()
        # sign the URL exactly as aiohttp will send it (yarl normalises percent-escapes)
        request = AWSRequest(method=method, url=str(yarl.URL(url)), data=body)
        SigV4Auth(credentials, self.service, self.region).add_auth(request)
        return {name: request.headers[name] for name in _SIGNED_OUT if name in request.headers}

    async def _frozen(self) -> ReadOnlyCredentials:
        credentials = self._credentials
        if credentials is None or (
            isinstance(credentials, RefreshableCredentials) and credentials.refresh_needed()
        ):
            async with self._lock:
                return await asyncio.to_thread(self._resolve)
        frozen: ReadOnlyCredentials = credentials.get_frozen_credentials()
        return frozen

    def _resolve(self) -> ReadOnlyCredentials:
        """In a worker thread: find credentials once, or refresh temporary ones."""
        try:
            if self._credentials is None:
                self._credentials = Session(profile=self._profile).get_credentials()
            if self._credentials is None:
                raise UpstreamError(
                    "no AWS credentials found (config, environment, profile or role)",
                    retryable=False,
                )
            frozen: ReadOnlyCredentials = self._credentials.get_frozen_credentials()
        except BotoCoreError as exc:
            raise UpstreamError(
                f"AWS credentials could not be resolved: {type(exc).__name__}", retryable=False
            ) from None
        return frozen
