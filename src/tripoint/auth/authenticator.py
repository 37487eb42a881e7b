"""Who is calling: an API key (`Authorization: Bearer tk-...` or `x-api-key`) or a JWT.

Every failure reads the same ("Invalid authentication credentials."), so a client learns
nothing about whether a key exists, was revoked or has expired.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from tripoint.auth.cache import TtlCache
from tripoint.auth.directory import KeyGrant, TeamGrant
from tripoint.auth.keys import KeyHasher, well_formed
from tripoint.auth.roles import Role
from tripoint.auth.tokens import TokenVerifier, looks_like_jwt
from tripoint.config.limits import NO_LIMITS
from tripoint.errors import AuthenticationError
from tripoint.pipeline.call import Principal

log = logging.getLogger("tripoint.auth")

INVALID = "Invalid authentication credentials."
MISSING = (
    "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY' "
    "or in the 'x-api-key' header."
)


def presented_credential(headers: Mapping[str, str]) -> str | None:
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationError(INVALID)
        return value.strip()
    key = headers.get("x-api-key")
    return key.strip() if key is not None and key.strip() else None


class Authenticator:
    def __init__(
        self,
        hasher: KeyHasher,
        keys: TtlCache[str, KeyGrant | None],
        teams: TtlCache[str, TeamGrant | None],
        *,
        tokens: TokenVerifier | None = None,
        bootstrap_key: str | None = None,
        key_ids: TtlCache[str, KeyGrant | None] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.hasher = hasher
        self.keys = keys
        self._teams = teams
        self._tokens = tokens
        self._key_ids = key_ids  # grants by key id, for principals recorded earlier
        self._bootstrap = hasher.digest(bootstrap_key) if bootstrap_key else None
        self._now = now

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        credential = presented_credential(headers)
        if credential is None:
            raise AuthenticationError(MISSING)
        if len(credential) > 8192:
            raise AuthenticationError(INVALID)
        digest = self.hasher.digest(credential)
        if self._bootstrap is not None and hmac.compare_digest(digest, self._bootstrap):
            return Principal(id="bootstrap", role=Role.ADMIN, kind="bootstrap")
        if well_formed(credential):
            return self._from_key(digest, await self.keys.get(digest))
        if self._tokens is not None and looks_like_jwt(credential):
            return await self._from_token(credential)
        raise AuthenticationError(INVALID)

    async def refresh(self, principal: Principal) -> Principal:
        """A principal recorded earlier (a batch's submitter) with its org and limits as they
        are now, so a batch cannot outrun limits set since; a key revoked since is refused."""
        if principal.key_id is not None and self._key_ids is not None:
            grant = await self._key_ids.get(principal.key_id)
            if grant is None:
                raise AuthenticationError(INVALID)
            return replace(
                principal, org=grant.org_id, org_name=grant.org_name, limits=grant.limits
            )
        if principal.team_name is not None:
            team = await self._teams.get(principal.team_name)
            if team is not None:
                return replace(
                    principal, org=team.org_id, org_name=team.org_name, limits=team.limits
                )
        return principal

    def _from_key(self, digest: str, grant: KeyGrant | None) -> Principal:
        # Found by digest; compared again in constant time so no code path compares secrets
        # (or their digests) with a short-circuiting `==`.
        if grant is None or not hmac.compare_digest(grant.digest, digest):
            raise AuthenticationError(INVALID)
        if grant.expires_at is not None and grant.expires_at <= self._now():
            raise AuthenticationError(INVALID)
        return Principal(
            id=grant.user_id or grant.key_id,
            team=grant.team_id,
            team_name=grant.team_name,
            role=grant.role,
            kind="key",
            models=grant.models,
            key_id=grant.key_id,
            expires_at=grant.expires_at,
            org=grant.org_id,
            org_name=grant.org_name,
            limits=grant.limits,
        )

    async def _from_token(self, token: str) -> Principal:
        assert self._tokens is not None  # noqa: S101 -- checked by the caller
        claims = await self._tokens.verify(token)
        team: TeamGrant | None = None
        if claims.team is not None:
            team = await self._teams.get(claims.team)
            if team is None:
                log.info("token names an unknown team", extra={"subject": claims.subject})
                raise AuthenticationError(INVALID)
        elif claims.role is not Role.ADMIN:
            raise AuthenticationError(INVALID)  # only an admin belongs to no team
        return Principal(
            id=f"jwt:{claims.subject}",
            team=team.team_id if team else None,
            team_name=team.name if team else None,
            role=claims.role,
            kind="jwt",
            models=team.models if team else None,
            expires_at=claims.expires_at,
            org=team.org_id if team else None,
            org_name=team.org_name if team else None,
            limits=team.limits if team else NO_LIMITS,
        )
