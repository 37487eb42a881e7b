"""The admin API: teams, users, keys and the audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import httpx
import openai
import pytest

from tests.auth.conftest import AuthGateway
from tests.conftest import gateway_settings
from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread

HELLO = [{"role": "user", "content": "Hello"}]


def test_every_change_is_audited_with_who_what_when_and_from_where(gw: AuthGateway) -> None:
    team = gw.team(models=["chat-default"])
    response = gw.admin(
        "POST", "/keys", json={"team_id": team["id"]}, headers={"x-request-id": "req-audit-1"}
    )
    created = response.json()
    gw.ok("POST", f"/keys/{created['id']}/revoke")

    entries = gw.ok("GET", "/audit", params={"target_id": created["id"]})["data"]

    assert [e["action"] for e in entries] == ["key.revoke", "key.create"]
    create = entries[1]
    assert (create["actor"], create["actor_role"], create["team_id"]) == (
        "bootstrap",
        "admin",
        team["id"],
    )
    assert create["source"] == "127.0.0.1"
    assert create["request_id"] == "req-audit-1"
    assert create["detail"]["role"] == "member"
    assert create["at"]
    assert created["key"] not in str(entries)


def test_team_admin_manages_users_of_its_team(gw: AuthGateway) -> None:
    team = gw.team()
    lead = gw.key(team["id"], role="team_admin")["key"]

    user = gw.ok("POST", "/users", key=lead, json={"email": f"dev@{team['id']}.example"})
    changed = gw.ok("PATCH", f"/users/{user['id']}", key=lead, json={"role": "viewer"})

    assert user["team_id"] == team["id"]
    assert changed["role"] == "viewer"
    assert [u["id"] for u in gw.ok("GET", "/users", key=lead)["data"]] == [user["id"]]


def test_disabling_a_user_stops_their_keys(gw: AuthGateway) -> None:
    team = gw.team()
    user = gw.ok("POST", "/users", json={"team_id": team["id"], "email": f"u@{team['id']}.example"})
    key = gw.key(team["id"], user_id=user["id"])["key"]
    gw.client(key).chat.completions.create(model="chat-default", messages=HELLO)

    gw.ok("PATCH", f"/users/{user['id']}", json={"disabled": True})

    with pytest.raises(openai.AuthenticationError):
        gw.client(key).chat.completions.create(model="chat-default", messages=HELLO)


def test_narrowing_a_team_narrows_its_keys(gw: AuthGateway) -> None:
    team = gw.team()
    key = gw.key(team["id"])["key"]
    assert len(gw.client(key).models.list().data) == 3

    gw.ok("PATCH", f"/teams/{team['id']}", json={"models": ["chat-default"]})

    assert [m.id for m in gw.client(key).models.list()] == ["chat-default"]


def test_a_key_cannot_carry_more_than_its_users_role(gw: AuthGateway) -> None:
    team = gw.team()
    user = gw.ok(
        "POST",
        "/users",
        json={"team_id": team["id"], "email": f"v@{team['id']}.example", "role": "viewer"},
    )

    response = gw.admin(
        "POST", "/keys", json={"team_id": team["id"], "user_id": user["id"], "role": "member"}
    )

    assert response.status_code == 422


def test_a_key_below_admin_needs_a_team(gw: AuthGateway) -> None:
    response = gw.admin("POST", "/keys", json={"role": "member"})

    assert response.status_code == 422
    assert response.json()["error"]["param"] == "team_id"


def test_admin_keys_may_exist_without_a_team(gw: AuthGateway) -> None:
    admin = gw.key(None, role="admin")["key"]

    assert gw.ok("GET", "/whoami", key=admin)["role"] == "admin"
    assert len(gw.client(admin).models.list().data) == 3


def test_duplicate_names_conflict(gw: AuthGateway) -> None:
    name = gw.team()["name"]

    response = gw.admin("POST", "/teams", json={"org_id": gw.org(), "name": name})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_openapi_document_is_served_to_callers_only(gw: AuthGateway) -> None:
    document = gw.ok("GET", "/openapi.json")

    assert "/keys/{key_id}/rotate" in document["paths"]
    assert gw.session.get("/admin/openapi.json").status_code == 401


def test_oversized_admin_bodies_are_refused(gw: AuthGateway) -> None:
    response = gw.admin(
        "POST", "/orgs", content=b"x" * 100_000, headers={"content-type": "application/json"}
    )

    assert response.status_code == 413


def test_oversized_chunked_admin_bodies_are_refused(gw: AuthGateway) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b"x" * 1000

    response = gw.admin(
        "POST", "/orgs", content=chunks(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_admin_path_is_a_404_envelope(gw: AuthGateway) -> None:
    response = gw.admin("GET", "/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


# without an `auth` section ---------------------------------------------------------------------
def test_without_auth_the_gateway_is_open_and_says_so(
    fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tripoint"):
        server = GatewayThread(gateway_settings(fake_openai.base_url)).start()
    try:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="anything", max_retries=0)
        models = [m.id for m in client.models.list()]
        admin_status = httpx.get(server.url + "/admin/whoami").status_code
    finally:
        server.stop()

    assert "chat-default" in models
    assert admin_status == 404  # no admin API where no caller is known
    assert any("OPEN" in r.getMessage() for r in caplog.records)
