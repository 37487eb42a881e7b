"""Shared fixtures: a scriptable OpenAI upstream and the real gateway in front of it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.postgres import PostgresServer
from tests.redis_server import RedisServer
from tests.servers import GatewayThread, free_port
from tripoint.config import parse_settings
from tripoint.config.schema import Settings


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def upstream(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


def gateway_settings(
    upstream_url: str, *, first_byte: float = 5, idle: float = 2, **server: object
) -> Settings:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    return parse_settings(
        f"""
server: {dict(server) or {}}
backends:
  fake:
    type: openai
    base_url: {upstream_url}
    pattern: self_hosted
    timeouts: {{connect: 2, first_byte: {first_byte}, idle: {idle}, total: 30}}
  dead:
    type: openai
    base_url: {dead}
    timeouts: {{connect: 1, first_byte: 2, idle: 2, total: 5}}
models:
  chat-default:
    targets: [{{backend: fake, model: upstream-chat}}]
  embed-default:
    targets: [{{backend: fake, model: upstream-embed}}]
    operations: [embeddings]
  with-fallback:
    targets: [{{backend: dead, model: m}}, {{backend: fake, model: upstream-chat}}]
  dead-only:
    targets: [{{backend: dead, model: m}}]
"""
    )


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A clean database on the shared server for each test."""
    with redis_server.client() as client:
        client.flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def gateway(fake_openai: FakeOpenAI) -> Iterator[GatewayThread]:
    server = GatewayThread(gateway_settings(fake_openai.base_url, max_body_bytes=65536)).start()
    yield server
    server.stop()


@pytest.fixture
def fresh(gateway: GatewayThread, upstream: FakeOpenAI) -> GatewayThread:
    """The shared gateway, with the breakers and latency it learned in earlier tests dropped,
    so they cannot steer this one."""
    gateway.gateway.fleet.forget()
    return gateway


@pytest.fixture
def client(fresh: GatewayThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=fresh.url + "/v1", api_key="unused", max_retries=0)


@pytest.fixture
def async_client(fresh: GatewayThread) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fresh.url + "/v1", api_key="unused", max_retries=0)


@pytest.fixture
def http(fresh: GatewayThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fresh.url, timeout=10) as session:
        yield session


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL cluster on loopback for the whole session; `create_database()` per test."""
    server = PostgresServer().start()
    yield server
    server.stop()
