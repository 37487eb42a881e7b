"""A loopback Vertex AI (Gemini generateContent, streamGenerateContent?alt=sse, predict) with
its own OAuth token endpoint: the endpoint verifies the service account's signed JWT
assertion with the account's public key, and the API accepts only the tokens it issued."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass

import orjson
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

from tests.fakes.loopback import LoopbackServer, Reply, fixture, fixture_json

PROJECT = "tripoint-test"
LOCATION = "europe-west4"
CLIENT_EMAIL = "gateway@tripoint-test.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# google-auth addresses the assertion to Google's token endpoint whatever token_uri says
AUDIENCE = "https://oauth2.googleapis.com/token"
_NOT_FOUND = {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}}


@dataclass
class ServiceAccount:
    """A freshly generated RSA key, as a service-account JSON key file holds it."""

    private_pem: str
    public_pem: bytes

    @classmethod
    def generate(cls) -> ServiceAccount:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(private, public)

    def key_file(self, token_uri: str) -> str:
        return orjson.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "0123456789abcdef",
                "private_key": self.private_pem,
                "client_email": CLIENT_EMAIL,
                "client_id": "104913219876543210987",
                "token_uri": token_uri,
            }
        ).decode()


class FakeVertex(LoopbackServer):
    name = "fake-vertex"

    def __init__(self, account: ServiceAccount) -> None:
        super().__init__()
        self.account = account
        self.token_lifetime = 3600  # expires_in of the next tokens issued
        self.token_delay = 0.0  # seconds before the token endpoint answers
        self.tokens_issued = 0
        self.token_rejections: list[str] = []
        self._valid: dict[str, float] = {}  # access token -> expiry (monotonic)
        self._serial = itertools.count(1)

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def reset(self) -> None:
        super().reset()
        self.token_lifetime = 3600
        self.token_delay = 0.0
        self.token_rejections.clear()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/token", self._token)
        app.router.add_post(
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{call}",
            self._handle,
        )
        app.router.add_post(
            "/v1/projects/{project}/locations/{location}/endpoints/{call}", self._handle
        )

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        await asyncio.sleep(self.token_delay)
        problem = self._check_grant(str(form.get("grant_type")), str(form.get("assertion", "")))
        if problem is not None:
            self.token_rejections.append(problem)
            return web.json_response(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                status=400,
            )
        token = f"ya29.fake-{next(self._serial)}"
        self._valid[token] = time.monotonic() + self.token_lifetime
        self.tokens_issued += 1
        return web.json_response(
            {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    def _check_grant(self, grant_type: str, assertion: str) -> str | None:
        """The JWT-bearer grant as Google checks it: signature, audience, issuer, scope."""
        if grant_type != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return f"unsupported grant_type {grant_type!r}"
        try:
            claims = jwt.decode(assertion, certs=self.account.public_pem, audience=AUDIENCE)
        except ValueError as exc:
            return str(exc)
        if claims.get("iss") != CLIENT_EMAIL or SCOPE not in str(claims.get("scope")):
            return "wrong issuer or scope"
        return None

    def _authorized(self, request: web.Request) -> bool:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return self._valid.get(token, 0.0) > time.monotonic()

    async def _handle(self, request: web.Request) -> web.StreamResponse:  # noqa: PLR0911 (a router)
        _, reply = await self.record(request)
        if not self._authorized(request):
            return web.json_response(fixture_json("vertex", "error_401.json"), status=401)
        if (request.match_info["project"], request.match_info["location"]) != (PROJECT, LOCATION):
            return web.json_response(_NOT_FOUND, status=404)
        if reply.body is not None:  # scripted raw bytes (garbage) replace any recorded answer
            return await self.send(request, reply, b"", "application/json")
        if reply.status >= 400:
            return await self.send(
                request, reply, fixture("vertex", f"error_{reply.status}.json"), "application/json"
            )
        method = request.match_info["call"].rpartition(":")[2]
        if method == "predict":
            return await self._predict(request, reply)
        if method == "streamGenerateContent" and request.query.get("alt") == "sse":
            name = f"{reply.scenario}.sse"
            return await self.send(request, reply, fixture("vertex", name), "text/event-stream")
        name = f"{reply.scenario}.json"
        return await self.send(request, reply, fixture("vertex", name), "application/json")

    async def _predict(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        instances = self.calls[-1].body["instances"]
        recorded = fixture_json("vertex", "predict_embeddings.json")["predictions"]
        predictions = []
        for i, instance in enumerate(instances):
            prediction = recorded[i % len(recorded)]["embeddings"]
            values = [float(len(instance["content"])), *prediction["values"][1:]]
            statistics = {"truncated": False, "token_count": len(instance["content"].split())}
            predictions.append({"embeddings": {"values": values, "statistics": statistics}})
        body = {"predictions": predictions, "metadata": {"billableCharacterCount": 20}}
        return await self.send(request, reply, orjson.dumps(body), "application/json")
