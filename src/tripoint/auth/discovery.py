"""Where the JWKS lives: a fixed URL, or the `jwks_uri` of the issuer's OIDC discovery document.

The discovery document (`{issuer}/.well-known/openid-configuration`, OpenID Connect Discovery
1.0 section 4) is trusted for the JWKS cache TTL, like the keys it points to. Its `issuer`
must equal the configured issuer exactly (section 4.3): a document naming another issuer is
refused, so a misrouted or spoofed discovery endpoint cannot hand us someone else's keys.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlsplit

from tripoint.config.schema import JwtSettings

log = logging.getLogger("tripoint.auth")

Fetch = Callable[[str], Awaitable[dict[str, object]]]
WELL_KNOWN = "/.well-known/openid-configuration"


class DiscoveryError(ValueError):
    """The discovery document is unusable (wrong issuer, no `jwks_uri`)."""


class JwksLocation(Protocol):
    async def locate(self, fetch: Fetch) -> str: ...

    def forget(self) -> None:
        """The JWKS fetch failed: look the location up afresh next time."""


class FixedLocation:
    def __init__(self, url: str) -> None:
        self._url = url

    async def locate(self, fetch: Fetch) -> str:
        return self._url

    def forget(self) -> None:
        return None


class Discovery:
    def __init__(self, settings: JwtSettings, *, clock: Callable[[], float]) -> None:
        self.issuer = settings.issuer
        self.url = str(settings.discovery_url or discovery_url(settings.issuer))
        self._ttl = settings.jwks_cache_ttl
        self._clock = clock
        self._jwks_uri: str | None = None
        self._found_at = 0.0

    async def locate(self, fetch: Fetch) -> str:
        if self._jwks_uri is not None and self._clock() - self._found_at < self._ttl:
            return self._jwks_uri
        found_at = self._clock()
        document = await fetch(self.url)
        if document.get("issuer") != self.issuer:
            log.error(
                "OIDC discovery document names another issuer; its keys are not used",
                extra={"expected": self.issuer, "found": str(document.get("issuer"))[:200]},
            )
            raise DiscoveryError("the discovery document names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or urlsplit(jwks_uri).scheme not in ("https", "http"):
            raise DiscoveryError("the discovery document has no usable jwks_uri")
        if jwks_uri != self._jwks_uri:
            log.info("OIDC discovery found the JWKS", extra={"jwks_uri": jwks_uri[:300]})
        self._jwks_uri, self._found_at = jwks_uri, found_at
        return jwks_uri

    def forget(self) -> None:
        self._jwks_uri = None


def discovery_url(issuer: str) -> str:
    # "any terminating / MUST be removed before appending /.well-known/openid-configuration"
    return issuer.rstrip("/") + WELL_KNOWN
