"""Two `tripoint serve` processes on one PostgreSQL: limits set through one replica's admin API
bind the other within the key cache TTL, the bound key revocation has."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import Secrets, auth_yaml
from tests.auth.test_replicas import GatewayProcess, wait_for
from tests.fakes.openai_upstream import FakeOpenAI
from tests.limits.test_admin_limits import LIMITS, WORDS
from tests.postgres import PostgresServer

pytestmark = pytest.mark.slow
TTL = 1.0
CHAT = {"model": "chat-default", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def replicas(
    postgres: PostgresServer, upstream: FakeOpenAI, tmp_path: Path
) -> Iterator[tuple[GatewayProcess, GatewayProcess, Secrets]]:
    upstream.always(words=WORDS)
    secret = Secrets(dsn=postgres.create_database())
    config = tmp_path / "tripoint.yaml"
    config.write_text(auth_yaml(upstream.base_url, tmp_path, LIMITS, ttl=TTL))
    started = [GatewayProcess(config, secret.env(), tmp_path / f"replica-{n}.log") for n in (1, 2)]
    try:
        first, second = (replica.wait_ready() for replica in started)
        yield first, second, secret
    finally:
        for replica in started:
            replica.stop()


def test_a_budget_set_on_one_replica_binds_the_other_within_the_key_cache_ttl(
    replicas: tuple[GatewayProcess, GatewayProcess, Secrets],
) -> None:
    a, b, secret = replicas
    admin = httpx.Client(headers={"Authorization": f"Bearer {secret.admin_key}"}, timeout=10)
    org = admin.post(a.url + "/admin/orgs", json={"name": "o"}).json()
    team = admin.post(a.url + "/admin/teams", json={"org_id": org["id"], "name": "t"}).json()
    key = admin.post(a.url + "/admin/keys", json={"team_id": team["id"]}).json()
    limits = f"/admin/keys/{key['id']}/limits"
    use = {"Authorization": f"Bearer {key['key']}"}

    def status(replica: GatewayProcess) -> int:
        return httpx.post(replica.url + "/v1/chat/completions", json=CHAT, headers=use).status_code

    before = status(b)  # b has loaded (and caches) the key without limits
    admin.put(a.url + limits, json={"budget_usd_total": "0.001"}).raise_for_status()  # < a call
    on_a = status(a)
    wait_for(lambda: status(b) == 429, within=TTL + 5)  # the bound, plus slack for a slow CI
    admin.delete(a.url + limits).raise_for_status()
    cleared_on_a = status(a)
    wait_for(lambda: status(b) == 200, within=TTL + 5)
    admin.close()

    assert before == 200
    assert on_a == 429  # the replica that changed them applies them at once
    assert cleared_on_a == 200
