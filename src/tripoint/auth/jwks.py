"""Verification keys for JWTs: static keys from config, or a JWKS fetched and cached (from a
configured URL, or from the `jwks_uri` OIDC discovery names).

A JWKS is trusted for `jwks_cache_ttl`. A token signed with a `kid` we do not know triggers
a refetch (the IdP rotated its keys), at most once per `jwks_min_refresh`, so a flood of
forged kids cannot turn into a flood of requests to the IdP (nor can a flood of tokens while
the IdP is down: with no keys, a failure is answered from memory for `jwks_min_refresh`).
If a refresh fails, the last good set keeps working (logged), since public keys do not become
secret by being old; with no good set at all the answer is 503 (we cannot tell), never a 401
guess.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import jwt

from tripoint.auth.discovery import Discovery, FixedLocation, JwksLocation
from tripoint.config.schema import JwtSettings
from tripoint.errors import AuthenticationError, ServiceUnavailableError

log = logging.getLogger("tripoint.auth")

_HMAC = frozenset({"HS256", "HS384", "HS512"})


@dataclass(frozen=True, slots=True)
class VerificationKey:
    kid: str | None
    key: object  # a cryptography public key, or the HMAC secret bytes
    algorithms: tuple[str, ...]


class StaticKeys:
    def __init__(self, settings: JwtSettings) -> None:
        self._keys: list[VerificationKey] = []
        for configured in settings.keys:
            text = configured.key.get_secret_value()
            if text.lstrip().startswith("-----BEGIN"):
                # A PEM is only ever a public key for asymmetric algorithms: no HS/RS confusion.
                algorithms = tuple(a for a in settings.algorithms if a not in _HMAC)
                key: object = text
            else:
                algorithms = tuple(a for a in settings.algorithms if a in _HMAC)
                key = text.encode()
            self._keys.append(VerificationKey(configured.kid, key, algorithms))

    async def key(self, kid: str | None) -> VerificationKey:
        for candidate in self._keys:
            if kid is None or candidate.kid is None or candidate.kid == kid:
                return candidate
        raise AuthenticationError("Invalid authentication credentials.")

    async def close(self) -> None:
        return None


class JwksKeys:
    def __init__(
        self,
        settings: JwtSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._location: JwksLocation = (
            Discovery(settings, clock=clock)
            if settings.discovers
            else FixedLocation(str(settings.jwks_url))
        )
        self._algorithms = tuple(a for a in settings.algorithms if a not in _HMAC)
        self._ttl = settings.jwks_cache_ttl
        self._min_refresh = settings.jwks_min_refresh
        self._clock = clock
        self._keys: dict[str | None, VerificationKey] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None  # the last failure while holding no keys at all
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def key(self, kid: str | None) -> VerificationKey:
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self._ttl
        may_refresh = self._fetched_at is None or now - self._fetched_at >= self._min_refresh
        if stale or (kid not in self._keys and may_refresh):
            await self._refresh()
        found = self._keys.get(kid)
        if found is None and kid is None and len(self._keys) == 1:
            found = next(iter(self._keys.values()))
        if found is None:
            raise AuthenticationError("Invalid authentication credentials.")
        return found

    async def _refresh(self) -> None:
        async with self._lock:
            started = self._clock()
            if self._fetched_at is not None and started - self._fetched_at < self._min_refresh:
                return  # another caller refreshed while we waited for the lock
            if self._failed_at is not None and started - self._failed_at < self._min_refresh:
                # Down and nothing to fall back on: answer at once rather than send every
                # JWT caller on to an identity provider that just failed.
                raise ServiceUnavailableError("The token issuer's keys are unavailable.")
            try:
                document = await self._fetch(await self._location.locate(self._fetch))
                keys = jwt.PyJWKSet.from_dict(document)
            except (
                aiohttp.ClientError,
                TimeoutError,
                ValueError,
                TypeError,
                jwt.PyJWTError,
            ) as exc:
                log.warning("JWKS refresh failed", extra={"error": type(exc).__name__})
                self._location.forget()  # the JWKS may have moved: rediscover next time
                if not self._keys:
                    self._failed_at = started
                    raise ServiceUnavailableError(
                        "The token issuer's keys are unavailable."
                    ) from exc
                self._fetched_at = started  # keep the last good set; retry after min_refresh
                return
            self._keys = {
                k.key_id: VerificationKey(k.key_id, k.key, _algorithms_of(k, self._algorithms))
                for k in keys.keys
                if k.public_key_use in (None, "sig")
            }
            self._fetched_at, self._failed_at = started, None
            log.info("JWKS refreshed", extra={"keys": len(self._keys)})

    async def _fetch(self, url: str) -> dict[str, object]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        async with self._session.get(url) as response:
            response.raise_for_status()
            document = await response.json(content_type=None)
        if not isinstance(document, dict):
            raise TypeError("a JWKS or discovery document is a JSON object")
        return document

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _algorithms_of(key: jwt.PyJWK, allowed: tuple[str, ...]) -> tuple[str, ...]:
    named = key.algorithm_name
    return (named,) if named in allowed else allowed
