"""Virtual API keys: minting, the peppered HMAC they are stored as, and how they are shown.

A key is `tk-` and 43 URL-safe characters (256 random bits). The database holds only
HMAC-SHA-256(pepper, key): a stolen table cannot be brute-forced without the pepper, and the
digest is the lookup index, so no secret is ever compared in SQL.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_PREFIX = "tk-"
_SHAPE = re.compile(r"tk-[A-Za-z0-9_-]{43}")
SHOWN_PREFIX = 8  # "tk-" and 5 characters: enough to tell keys apart, useless to an attacker


@dataclass(frozen=True, slots=True)
class MintedKey:
    secret: str  # shown to its owner once, never stored
    digest: str
    prefix: str
    last4: str


class KeyHasher:
    def __init__(self, pepper: str) -> None:
        if len(pepper) < 16:
            raise ValueError("auth.pepper must be at least 16 characters")
        self._pepper = pepper.encode()

    def digest(self, key: str) -> str:
        return hmac.new(self._pepper, key.encode(), hashlib.sha256).hexdigest()

    def matches(self, key: str, digest: str) -> bool:
        return hmac.compare_digest(self.digest(key), digest)

    def mint(self) -> MintedKey:
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        digest = self.digest(secret)
        return MintedKey(secret, digest, prefix=secret[:SHOWN_PREFIX], last4=secret[-4:])


def well_formed(key: str) -> bool:
    """Cheap shape check, so garbage never reaches the cache or the database."""
    return _SHAPE.fullmatch(key) is not None


def new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(8)}"
