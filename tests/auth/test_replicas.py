"""Several replicas on one PostgreSQL: revocation reaches all of them within the key cache
TTL; with the database down a replica serves cached keys for at most that TTL, then 503."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import AuthGateway, Secrets, auth_settings, auth_yaml
from tests.fakes.openai_upstream import FakeOpenAI
from tests.postgres import PostgresServer
from tests.servers import GatewayThread, free_port

pytestmark = pytest.mark.slow
TTL = 1.0
CHAT = {"model": "chat-default", "messages": [{"role": "user", "content": "Hi"}]}


class GatewayProcess:
    """`tripoint serve` in its own process, as a replica runs in production."""

    def __init__(self, config: Path, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tripoint", "serve", "--config", str(config),
             "--port", str(self.port), "--log-level", "warning"],
            env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> GatewayProcess:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"replica exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("replica did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)
        self._log.close()


def wait_for(check: Callable[[], bool], within: float) -> float:
    """Seconds until `check()` held; fails if it did not within `within` seconds."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within:
            pytest.fail(f"not reached within {within} s")
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
def replicas(
    postgres: PostgresServer, fake_openai: FakeOpenAI, tmp_path: Path
) -> Iterator[tuple[GatewayProcess, GatewayProcess, Secrets]]:
    secret = Secrets(dsn=postgres.create_database())
    config = tmp_path / "tripoint.yaml"
    config.write_text(auth_yaml(fake_openai.base_url, tmp_path, ttl=TTL))
    started = [GatewayProcess(config, secret.env(), tmp_path / f"replica-{n}.log") for n in (1, 2)]
    try:
        first, second = (replica.wait_ready() for replica in started)
        yield first, second, secret
    finally:
        for replica in started:
            replica.stop()


def test_revocation_reaches_every_replica_within_the_cache_ttl(
    replicas: tuple[GatewayProcess, GatewayProcess, Secrets],
) -> None:
    a, b, secret = replicas
    admin = {"Authorization": f"Bearer {secret.admin_key}"}
    org = httpx.post(a.url + "/admin/orgs", json={"name": "o"}, headers=admin).json()
    team = httpx.post(
        a.url + "/admin/teams", json={"org_id": org["id"], "name": "t"}, headers=admin
    ).json()
    key = httpx.post(a.url + "/admin/keys", json={"team_id": team["id"]}, headers=admin).json()
    use = {"Authorization": f"Bearer {key['key']}"}
    assert httpx.post(b.url + "/v1/chat/completions", json=CHAT, headers=use).status_code == 200

    httpx.post(a.url + f"/admin/keys/{key['id']}/revoke", headers=admin).raise_for_status()

    assert httpx.post(a.url + "/v1/chat/completions", json=CHAT, headers=use).status_code == 401
    wait_for(
        lambda: (
            httpx.post(b.url + "/v1/chat/completions", json=CHAT, headers=use).status_code == 401
        ),
        within=TTL + 5,  # the documented bound, plus slack for a loaded CI machine
    )


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.stop()


def test_with_the_database_down_cached_keys_serve_for_the_ttl_then_503(
    own_postgres: PostgresServer, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    secret = Secrets(dsn=own_postgres.create_database())
    server = GatewayThread(auth_settings(fake_openai.base_url, secret, tmp_path, ttl=3.0)).start()
    gw = AuthGateway(server, secret, "postgresql")
    try:
        key = gw.key(gw.team()["id"])["key"]
        use = {"Authorization": f"Bearer {key}"}
        assert gw.session.post("/v1/chat/completions", json=CHAT, headers=use).status_code == 200

        own_postgres.pause()
        cached = gw.session.post("/v1/chat/completions", json=CHAT, headers=use)
        unknown = gw.session.get("/v1/models", headers={"x-api-key": "tk-" + "B" * 43})
        wait_for(
            lambda: (
                gw.session.post("/v1/chat/completions", json=CHAT, headers=use).status_code == 503
            ),
            within=3.0 + 10,
        )
        down = gw.session.post("/v1/chat/completions", json=CHAT, headers=use)
        own_postgres.resume()
        wait_for(
            lambda: (
                gw.session.post("/v1/chat/completions", json=CHAT, headers=use).status_code == 200
            ),
            within=15,
        )
    finally:
        gw.session.close()
        server.stop()

    assert cached.status_code == 200  # served from the cache while the database is down
    assert unknown.status_code == 503  # cannot tell, so fail closed: never a 401 guess
    assert down.json()["error"]["type"] == "service_unavailable"
