"""Identity, assembled from settings: the store, the key cache, the authenticator, the admin."""

from __future__ import annotations

import logging

from tripoint.auth.administration import Administration
from tripoint.auth.authenticator import Authenticator
from tripoint.auth.broadcast import EVERYTHING, Listener, Notify, Quiet
from tripoint.auth.cache import TtlCache
from tripoint.auth.directory import Directory, KeyGrant, TeamGrant
from tripoint.auth.jwks import JwksKeys, StaticKeys
from tripoint.auth.keys import KeyHasher
from tripoint.auth.limit_admin import LimitAdministration
from tripoint.auth.tokens import KeySource, TokenVerifier
from tripoint.config.schema import AuthSettings
from tripoint.errors import ConfigError
from tripoint.storage.database import Database

log = logging.getLogger("tripoint.auth")


class Identity:
    """A gateway Component (after the Database it reads): everything auth needs at run time."""

    name = "identity"

    def __init__(self, settings: AuthSettings, database: Database, models: frozenset[str]) -> None:
        try:
            hasher = KeyHasher(settings.pepper.get_secret_value())
        except ValueError as exc:
            raise ConfigError([str(exc)]) from None
        directory = Directory(database)
        pushed = settings.revocation_push and database.dialect == "postgresql"
        self.keys: TtlCache[str, KeyGrant | None] = TtlCache(
            directory.key, ttl=settings.key_cache_ttl, max_size=settings.key_cache_size
        )
        self.teams: TtlCache[str, TeamGrant | None] = TtlCache(
            directory.team, ttl=settings.key_cache_ttl, max_size=10_000
        )
        self.key_ids: TtlCache[str, KeyGrant | None] = TtlCache(
            directory.key_by_id, ttl=settings.key_cache_ttl, max_size=settings.key_cache_size
        )
        self.tokens = _tokens(settings)
        bootstrap = settings.bootstrap_admin_key
        self.authenticator = Authenticator(
            hasher,
            self.keys,
            self.teams,
            tokens=self.tokens,
            bootstrap_key=bootstrap.get_secret_value() if bootstrap else None,
            key_ids=self.key_ids,
        )
        self.administration = Administration(
            database,
            hasher,
            known_models=models,
            rotation_grace=settings.rotation_grace,
            forget=self._forget,
            announcer=Notify() if pushed else Quiet(),
        )
        self.limits = LimitAdministration(database, forget=self._forget)
        self.database = database
        self.cache_ttl = settings.key_cache_ttl
        self.listener = (
            Listener(
                database.driver_dsn(),
                self._pushed,
                connect_timeout=database.connect_timeout,
            )
            if pushed
            else None
        )

    def _pushed(self, payload: str) -> None:
        """Another replica (or the CLI) changed a key (payload: its id) or anything (`*`)."""
        if payload == EVERYTHING:
            self._forget(None)
        else:
            self.keys.discard(lambda grant: grant is not None and grant.key_id == payload)

    def _forget(self, digest: str | None) -> None:
        self.key_ids.clear()  # by id, it cannot be told apart; only batch lines read it
        if digest is None:
            self.keys.clear()
            self.teams.clear()
        else:
            self.keys.invalidate(digest)

    async def start(self) -> None:
        log.info(
            "authentication on",
            extra={"key_cache_ttl": self.cache_ttl, "revocation_push": self.listener is not None},
        )
        if self.listener is not None:
            await self.listener.start()

    async def close(self) -> None:
        if self.listener is not None:
            await self.listener.close()
        if self.tokens is not None:
            await self.tokens.close()

    async def ready(self) -> bool:
        return True


def _tokens(settings: AuthSettings) -> TokenVerifier | None:
    if settings.jwt is None:
        return None
    keys: KeySource = StaticKeys(settings.jwt) if settings.jwt.keys else JwksKeys(settings.jwt)
    return TokenVerifier(settings.jwt, keys)
