"""Fixtures for identity tests: a database of each kind, and a real gateway with auth on."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.postgres import PostgresServer
from tests.servers import GatewayThread
from tripoint.config import parse_settings
from tripoint.config.schema import Settings

DATABASES = ["sqlite", "postgresql"]


def database_dsn(kind: str, request: pytest.FixtureRequest, directory: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{directory / 'tripoint.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture(params=DATABASES)
def dsn(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: SQLite file or PostgreSQL database."""
    return database_dsn(request.param, request, tmp_path)


@dataclass
class Secrets:
    """The canaries: values that must never show up in logs, bodies or the database."""

    dsn: str
    pepper: str = field(default_factory=lambda: "pepper-" + secrets.token_hex(16))
    admin_key: str = field(default_factory=lambda: "admin-" + secrets.token_hex(24))

    def env(self) -> dict[str, str]:
        return {
            "TRIPOINT_TEST_DSN": self.dsn,
            "TRIPOINT_TEST_PEPPER": self.pepper,
            "TRIPOINT_TEST_ADMIN_KEY": self.admin_key,
        }


def auth_yaml(upstream_url: str, data_dir: Path, extra: str = "", ttl: float = 1.0) -> str:
    return f"""
server: {{data_dir: {data_dir}}}
storage: {{url: env:TRIPOINT_TEST_DSN}}
auth:
  pepper: env:TRIPOINT_TEST_PEPPER
  bootstrap_admin_key: env:TRIPOINT_TEST_ADMIN_KEY
  key_cache_ttl: {ttl}
  rotation_grace: 3600
{extra}
backends:
  fake:
    type: openai
    base_url: {upstream_url}
    pattern: self_hosted
models:
  chat-default:
    targets: [{{backend: fake, model: upstream-chat}}]
  chat-premium:
    targets: [{{backend: fake, model: upstream-chat}}]
  embed-default:
    targets: [{{backend: fake, model: upstream-embed}}]
    operations: [embeddings]
"""


def auth_settings(
    upstream_url: str, secret: Secrets, data_dir: Path, extra: str = "", ttl: float = 1.0
) -> Settings:
    text = auth_yaml(upstream_url, data_dir, extra, ttl)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in secret.env().items():
            patch.setenv(name, value)
        return parse_settings(text)


@dataclass
class AuthGateway:
    """A running gateway with auth on, and a few ways to talk to it."""

    server: GatewayThread
    secrets: Secrets
    kind: str
    session: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.session = httpx.Client(base_url=self.server.url, timeout=10)

    @property
    def url(self) -> str:
        return self.server.url

    def http(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def admin(self, method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {key or self.secrets.admin_key}",
            **kw.pop("headers", {}),
        }
        return self.session.request(method, "/admin" + path, headers=headers, **kw)

    def ok(self, method: str, path: str, key: str | None = None, **kw: Any) -> Any:
        response = self.admin(method, path, key, **kw)
        assert response.status_code < 300, response.text
        return response.json()

    def client(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.url + "/v1", api_key=key, max_retries=0, http_client=self.session
        )

    def org(self) -> str:
        return self.ok("POST", "/orgs", json={"name": "org-" + secrets.token_hex(4)})["id"]

    def team(self, models: list[str] | None = None, name: str | None = None) -> dict[str, Any]:
        body = {"org_id": self.org(), "name": name or "team-" + secrets.token_hex(4)}
        if models is not None:
            body["models"] = models
        return self.ok("POST", "/teams", json=body)

    def key(self, team_id: str | None, by: str | None = None, **body: Any) -> dict[str, Any]:
        return self.ok("POST", "/keys", key=by, json={"team_id": team_id, **body})


@pytest.fixture(scope="module", params=DATABASES)
def auth_gateway(
    request: pytest.FixtureRequest,
    fake_openai: FakeOpenAI,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AuthGateway]:
    directory = tmp_path_factory.mktemp("auth")
    secret = Secrets(dsn=database_dsn(request.param, request, directory))
    settings = auth_settings(fake_openai.base_url, secret, directory)
    server = GatewayThread(settings).start()
    gateway = AuthGateway(server, secret, request.param)
    yield gateway
    gateway.session.close()
    server.stop()


@pytest.fixture
def gw(auth_gateway: AuthGateway, upstream: FakeOpenAI) -> AuthGateway:
    """The module's auth gateway, with a clean upstream script."""
    return auth_gateway
