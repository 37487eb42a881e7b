"""JWT/OIDC bearer tokens: verify signature, `iss`, `aud`, `exp`, `nbf`; map claims to a caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import jwt

from tripoint.auth.jwks import VerificationKey
from tripoint.auth.roles import Role
from tripoint.config.schema import JwtSettings
from tripoint.errors import AuthenticationError

_INVALID = "Invalid authentication credentials."
_ROLE_NAMES = frozenset(role.value for role in Role)


class KeySource(Protocol):
    async def key(self, kid: str | None) -> VerificationKey: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    team: str | None  # the team's name, as the identity provider knows it
    role: Role
    expires_at: datetime


class TokenVerifier:
    def __init__(self, settings: JwtSettings, keys: KeySource) -> None:
        self._settings = settings
        self._keys = keys

    async def verify(self, token: str) -> TokenClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError(_INVALID) from None
        kid = header.get("kid")
        key = await self._keys.key(kid if isinstance(kid, str) else None)
        settings = self._settings
        try:
            claims = jwt.decode(
                token,
                key.key,  # type: ignore[arg-type]
                algorithms=list(key.algorithms),
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway,
                options={"require": ["exp", "iss", "aud", settings.subject_claim]},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            raise AuthenticationError(_INVALID) from None
        return TokenClaims(
            subject=_text(claims.get(settings.subject_claim)),
            team=_optional_text(claims.get(settings.team_claim)),
            role=self._role(claims.get(settings.role_claim)),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )

    def _role(self, value: object) -> Role:
        if value is None:
            if self._settings.default_role is None:
                raise AuthenticationError(_INVALID)
            return Role(self._settings.default_role)
        candidates = value if isinstance(value, list) else [value]
        roles = []
        for candidate in candidates:
            name = self._settings.role_map.get(str(candidate), str(candidate))
            if name in _ROLE_NAMES:
                roles.append(Role(name))
        if not roles:
            raise AuthenticationError(_INVALID)
        # a list of groups: the strongest wins (auditor over viewer, its equal in rank)
        return max(roles, key=lambda role: (role.rank, role is Role.AUDITOR))

    async def close(self) -> None:
        await self._keys.close()


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


def _text(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > 200 or not value.isprintable():
        raise AuthenticationError(_INVALID)
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)
