"""The ledger through the real gateway on SQLite and PostgreSQL: one record per call whatever
its outcome, usage and flow reports scoped by team, and a verifiable chain."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.auth.conftest import AuthGateway, Secrets, auth_settings, database_dsn
from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread

LIMITS = """
limits:
  prices: {upstream-chat: {input: "1000", output: "2000"}}
  teams: {ledger-red: {requests_per_minute: 1000}}
  models: {chat-premium: {requests_per_minute: 1}}
governance:
  policies:
    - {name: keep-restricted-home, when: {class_at_least: restricted},
       allow: {pattern: [self_hosted]}}
"""
HELLO = [{"role": "user", "content": "hello there"}]


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_gateway(
    request: pytest.FixtureRequest, upstream: FakeOpenAI, tmp_path: Path
) -> Iterator[AuthGateway]:
    secret = Secrets(dsn=database_dsn(request.param, request, tmp_path))
    settings = auth_settings(upstream.base_url, secret, tmp_path, LIMITS)
    server = GatewayThread(settings).start()
    gateway = AuthGateway(server, secret, request.param)
    yield gateway
    gateway.session.close()
    server.stop()


def wait_for_calls(gw: AuthGateway, count: int, **query: Any) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        rows = gw.ok("GET", "/calls", params=query)["data"]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_every_call_is_recorded_whatever_its_outcome(
    ledger_gateway: AuthGateway, upstream: FakeOpenAI
) -> None:
    gw = ledger_gateway
    red = gw.team(name="ledger-red")
    key = gw.key(red["id"])
    client = gw.client(key["key"])

    client.chat.completions.create(model="chat-default", messages=HELLO)
    list(client.chat.completions.create(model="chat-default", messages=HELLO, stream=True))
    upstream.then(status=500)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="chat-default", messages=HELLO)
    client.chat.completions.create(model="chat-premium", messages=HELLO)
    with pytest.raises(openai.RateLimitError, match="requests_per_minute"):
        client.chat.completions.create(model="chat-premium", messages=HELLO)

    rows = wait_for_calls(gw, 5)

    assert [r["status"] for r in rows] == [200, 200, 502, 200, 429]
    ok = rows[0]
    assert ok["key_id"] == key["id"]
    assert ok["team_name"] == "ledger-red"
    assert (ok["backend"], ok["pattern"], ok["target_model"]) == (
        "fake",
        "self_hosted",
        "upstream-chat",
    )
    assert ok["completion_tokens"] == 6
    # price: 1000 $/M input, 2000 $/M output
    expected = ok["prompt_tokens"] * 1000 * 1000 + 6 * 2000 * 1000
    assert ok["cost_nano"] == expected
    assert rows[1]["ttft_ms"] is not None
    assert rows[2]["error_type"] == "upstream_error"
    assert rows[2]["cost_nano"] == 0
    assert rows[4]["error_type"] == "rate_limit_exceeded"
    assert rows[4]["backend"] is None  # refused before any upstream saw it


def test_usage_report_and_team_scoping(ledger_gateway: AuthGateway) -> None:
    gw = ledger_gateway
    red, blue = gw.team(name="ledger-red"), gw.team(name="ledger-blue")
    red_key, blue_key = gw.key(red["id"]), gw.key(blue["id"])
    red_admin = gw.key(red["id"], role="team_admin")
    for key, times in ((red_key, 3), (blue_key, 2)):
        for _ in range(times):
            gw.client(key["key"]).chat.completions.create(model="chat-default", messages=HELLO)
    wait_for_calls(gw, 5)

    everyone = gw.ok("GET", "/usage", params={"group_by": ["team", "model"]})["data"]
    only_red = gw.ok("GET", "/usage", key=red_admin["key"], params={"group_by": ["team"]})["data"]

    by_team = {row["team"]: row for row in everyone}
    assert by_team["ledger-red"]["calls"] == 3
    assert by_team["ledger-blue"]["calls"] == 2
    assert by_team["ledger-red"]["completion_tokens"] == 18
    assert [row["team"] for row in only_red] == ["ledger-red"]


def test_flows_report_where_data_went(ledger_gateway: AuthGateway) -> None:
    gw = ledger_gateway
    red = gw.team(name="ledger-red")
    client = gw.client(gw.key(red["id"])["key"])
    client.chat.completions.create(
        model="chat-default", messages=HELLO, extra_headers={"x-tripoint-data-class": "restricted"}
    )
    client.chat.completions.create(model="chat-default", messages=HELLO)
    wait_for_calls(gw, 2)

    flows = gw.ok("GET", "/governance/flows")["data"]

    assert {(f["team"], f["data_class"], f["pattern"], f["calls"]) for f in flows} == {
        ("ledger-red", "restricted", "self_hosted", 1),
        ("ledger-red", "internal", "self_hosted", 1),
    }


def test_the_chain_verifies_through_the_api(ledger_gateway: AuthGateway) -> None:
    gw = ledger_gateway
    client = gw.client(gw.key(gw.team()["id"])["key"])
    for _ in range(4):
        client.chat.completions.create(model="chat-default", messages=HELLO)
    wait_for_calls(gw, 4)

    verdict = gw.ok("GET", "/calls/verify")

    assert verdict == {"valid": True, "checked": 4, "first_break": None}
