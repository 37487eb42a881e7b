"""Several replicas on one PostgreSQL: revocation reaches all of them at once through the push
channel (LISTEN/NOTIFY), and within the key cache TTL without it; with the database down a
replica serves cached keys for at most that TTL, then 503."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.auth.conftest import AuthGateway, Secrets, auth_settings, auth_yaml
from tests.fakes.openai_upstream import FakeOpenAI
from tests.postgres import PostgresServer
from tests.servers import GatewayThread, free_port
from tripoint.cli import main

pytestmark = pytest.mark.slow
TTL = 1.0
LONG_TTL = 60.0  # long enough that only the push can explain a refusal within seconds
PUSH_DEADLINE = 5.0  # well inside LONG_TTL, with slack for a loaded CI machine
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


Replicas = tuple[GatewayProcess, GatewayProcess, Secrets]


def two_replicas(
    postgres: PostgresServer, fake_openai: FakeOpenAI, tmp_path: Path, ttl: float, extra: str = ""
) -> Iterator[Replicas]:
    """Two `tripoint serve` processes on one fresh database; the config is tmp_path's."""
    secret = Secrets(dsn=postgres.create_database())
    config = tmp_path / "tripoint.yaml"
    config.write_text(auth_yaml(fake_openai.base_url, tmp_path, extra, ttl=ttl))
    started = [GatewayProcess(config, secret.env(), tmp_path / f"replica-{n}.log") for n in (1, 2)]
    try:
        first, second = (replica.wait_ready() for replica in started)
        yield first, second, secret
    finally:
        for replica in started:
            replica.stop()


@pytest.fixture
def replicas(
    postgres: PostgresServer, fake_openai: FakeOpenAI, tmp_path: Path
) -> Iterator[Replicas]:
    """Short TTL, no push: what the TTL alone guarantees."""
    yield from two_replicas(postgres, fake_openai, tmp_path, TTL, "  revocation_push: false")


@pytest.fixture(scope="module")
def pushed_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pushed")


@pytest.fixture(scope="module")
def pushed_replicas(
    postgres: PostgresServer, fake_openai: FakeOpenAI, pushed_directory: Path
) -> Iterator[Replicas]:
    """A 60 s TTL and the push channel on (the default on PostgreSQL); shared by the module's
    tests, each with its own org, team and key."""
    yield from two_replicas(postgres, fake_openai, pushed_directory, LONG_TTL)


def _team_key(url: str, admin: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    name = secrets.token_hex(4)
    org = httpx.post(url + "/admin/orgs", json={"name": f"o-{name}"}, headers=admin).json()
    team = httpx.post(
        url + "/admin/teams", json={"org_id": org["id"], "name": f"t-{name}"}, headers=admin
    ).json()
    key = httpx.post(url + "/admin/keys", json={"team_id": team["id"]}, headers=admin).json()
    return key, {"Authorization": f"Bearer {key['key']}"}


def _status(url: str, use: dict[str, str]) -> int:
    return httpx.post(url + "/v1/chat/completions", json=CHAT, headers=use).status_code


@pytest.mark.parametrize("change", ["revoke", "rotate-without-grace", "delete-team"])
def test_a_change_on_one_replica_is_refused_on_the_other_at_once(
    pushed_replicas: Replicas, change: str
) -> None:
    a, b, secret = pushed_replicas
    admin = {"Authorization": f"Bearer {secret.admin_key}"}
    key, use = _team_key(a.url, admin)
    assert _status(b.url, use) == 200  # now cached on B for 60 s

    if change == "revoke":
        httpx.post(a.url + f"/admin/keys/{key['id']}/revoke", headers=admin).raise_for_status()
    elif change == "rotate-without-grace":
        httpx.post(
            a.url + f"/admin/keys/{key['id']}/rotate", json={"grace_seconds": 0}, headers=admin
        ).raise_for_status()
    else:
        httpx.delete(a.url + f"/admin/teams/{key['team_id']}", headers=admin).raise_for_status()

    wait_for(lambda: _status(b.url, use) == 401, within=PUSH_DEADLINE)


def test_a_revocation_by_the_cli_reaches_running_replicas_at_once(
    pushed_replicas: Replicas, pushed_directory: Path
) -> None:
    a, b, secret = pushed_replicas
    admin = {"Authorization": f"Bearer {secret.admin_key}"}
    key, use = _team_key(a.url, admin)
    assert _status(a.url, use) == _status(b.url, use) == 200

    result = CliRunner().invoke(
        main, ["keys", "revoke", key["id"], "--config", str(pushed_directory / "tripoint.yaml")],
        env=secret.env(),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    wait_for(lambda: _status(a.url, use) == _status(b.url, use) == 401, within=PUSH_DEADLINE)


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
