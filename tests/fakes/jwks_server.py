"""An OIDC identity provider's key endpoints on a loopback port: the discovery document
(`/.well-known/openid-configuration`, shaped as OpenID Connect Discovery 1.0 section 3) and the
JWKS it points to, whose keys, issuer and failures a test can change."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.fakes.app_thread import AppThread

PATH = "/.well-known/jwks.json"
DISCOVERY = "/.well-known/openid-configuration"


class SigningKey:
    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private, algorithm="RS256", headers={"kid": self.kid, **header}
        )


class JwksServer(AppThread):
    name = "jwks"

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.failing = False
        self.discoveries = 0
        self.discovery_failing = False
        self.named_issuer: str | None = None  # what the document says; default: our own origin
        self.jwks_path = PATH

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.jwks_path}"

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _discovery(self, request: web.Request) -> web.Response:
        self.discoveries += 1
        if self.discovery_failing:
            return web.Response(status=500, text="<html>upstream error</html>")
        return web.json_response(
            {
                "issuer": self.named_issuer or self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": self.url,
                "response_types_supported": ["code", "id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        self.fetches += 1
        if self.failing:
            return web.Response(status=503)
        return web.json_response({"keys": [k.jwk() for k in self.keys]})

    def routes(self, app: web.Application) -> None:
        app.router.add_get(PATH, self._jwks)
        app.router.add_get("/keys/v2", self._jwks)  # where a test may move the JWKS to
        app.router.add_get(DISCOVERY, self._discovery)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": "https://idp.test",
        "aud": "tripoint",
        "sub": "alice",
        "exp": now + 300,
        "nbf": now - 5,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}
