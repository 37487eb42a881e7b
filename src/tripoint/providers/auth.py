"""Credentials attached to upstream requests; providers never see a secret.

An auth object answers the headers for one request. Signing schemes (AWS SigV4) need the
method, URL and body, so they are part of the contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from pydantic import SecretStr


class UpstreamAuth(Protocol):
    async def headers(self, method: str, url: str, body: bytes) -> Mapping[str, str]: ...


class NoAuth:
    async def headers(self, method: str, url: str, body: bytes) -> Mapping[str, str]:
        return {}


class HeaderAuth:
    """A static credential header: `Authorization: Bearer ...`, `api-key: ...`, `x-api-key`."""

    def __init__(self, header: str, secret: SecretStr, *, prefix: str = "") -> None:
        self._headers = {header: f"{prefix}{secret.get_secret_value()}"}

    def __repr__(self) -> str:
        return f"HeaderAuth({next(iter(self._headers))}: ***)"

    async def headers(self, method: str, url: str, body: bytes) -> Mapping[str, str]:
        return self._headers


def bearer(secret: SecretStr | None) -> UpstreamAuth:
    return HeaderAuth("Authorization", secret, prefix="Bearer ") if secret else NoAuth()
