"""Virtual API keys end to end: the admin API mints them, the openai SDK uses them."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.auth.conftest import AuthGateway

HELLO = [{"role": "user", "content": "Hello"}]


def test_key_calls_its_team_models_through_the_openai_sdk(gw: AuthGateway) -> None:
    team = gw.team(models=["chat-default", "embed-default"])
    key = gw.key(team["id"])["key"]

    answer = gw.client(key).chat.completions.create(model="chat-default", messages=HELLO)

    assert answer.choices[0].message.content == "Hello from the fake upstream!"


def test_x_api_key_header_is_accepted(gw: AuthGateway) -> None:
    key = gw.key(gw.team()["id"])["key"]

    with httpx.Client(base_url=gw.url, headers={"x-api-key": key}) as client:
        response = client.post(
            "/v1/chat/completions", json={"model": "chat-default", "messages": HELLO}
        )

    assert response.status_code == 200


def test_models_list_shows_only_what_the_key_may_use(gw: AuthGateway) -> None:
    team = gw.team(models=["chat-default", "chat-premium"])
    key = gw.key(team["id"], models=["chat-premium"])["key"]

    listed = [m.id for m in gw.client(key).models.list()]

    assert listed == ["chat-premium"]


def test_bootstrap_admin_sees_every_model(gw: AuthGateway) -> None:
    listed = [m.id for m in gw.client(gw.secrets.admin_key).models.list()]

    assert listed == ["chat-default", "chat-premium", "embed-default"]


def test_model_outside_the_allowlist_is_indistinguishable_from_a_missing_one(
    gw: AuthGateway,
) -> None:
    key = gw.key(gw.team(models=["chat-default"])["id"])["key"]
    client = gw.client(key)

    with pytest.raises(openai.NotFoundError) as forbidden:
        client.chat.completions.create(model="chat-premium", messages=HELLO)
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-model", messages=HELLO)

    assert forbidden.value.body["code"] == missing.value.body["code"] == "model_not_found"
    assert forbidden.value.body["message"].replace("chat-premium", "X") == missing.value.body[
        "message"
    ].replace("no-such-model", "X")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("chat-premium")


def test_key_cannot_widen_its_team_models(gw: AuthGateway) -> None:
    team = gw.team(models=["chat-default"])

    response = gw.admin("POST", "/keys", json={"team_id": team["id"], "models": ["chat-premium"]})

    assert response.status_code == 422
    assert response.json()["error"]["param"] == "models"


def test_viewer_key_reads_but_cannot_call_models(gw: AuthGateway) -> None:
    team = gw.team()
    viewer = gw.key(team["id"], role="viewer")["key"]

    with pytest.raises(openai.PermissionDeniedError):
        gw.client(viewer).chat.completions.create(model="chat-default", messages=HELLO)
    assert gw.ok("GET", "/teams/" + team["id"], key=viewer)["id"] == team["id"]
    assert [m.id for m in gw.client(viewer).models.list()] == []


def test_created_key_is_shown_once_then_only_by_prefix_and_last_four(gw: AuthGateway) -> None:
    team = gw.team()
    created = gw.key(team["id"], name="ci", metadata={"owner": "ci-bot"})

    listed = gw.ok("GET", "/keys", params={"team_id": team["id"]})["data"]
    shown = gw.ok("GET", "/keys/" + created["id"])

    assert created["key"].startswith("tk-")
    assert len(created["key"]) == 46
    assert [k["id"] for k in listed] == [created["id"]]
    for view in (*listed, shown):
        assert "key" not in view
        assert created["key"] not in str(view)
        assert view["prefix"] == created["key"][:8]
        assert view["last4"] == created["key"][-4:]
        assert view["metadata"] == {"owner": "ci-bot"}


def test_revoked_key_is_refused_at_once_on_the_same_replica(gw: AuthGateway) -> None:
    created = gw.key(gw.team()["id"])
    client = gw.client(created["key"])
    client.chat.completions.create(model="chat-default", messages=HELLO)  # now cached

    gw.ok("POST", f"/keys/{created['id']}/revoke")

    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="chat-default", messages=HELLO)


def test_rotated_key_keeps_working_for_the_grace_period(gw: AuthGateway) -> None:
    old = gw.key(gw.team()["id"])

    new = gw.ok("POST", f"/keys/{old['id']}/rotate", json={"grace_seconds": 600})

    assert new["key"] != old["key"]
    assert gw.ok("GET", "/keys/" + old["id"])["replaced_by"] == new["id"]
    for key in (old["key"], new["key"]):
        gw.client(key).chat.completions.create(model="chat-default", messages=HELLO)


def test_rotation_without_grace_retires_the_old_key_at_once(gw: AuthGateway) -> None:
    old = gw.key(gw.team()["id"])

    new = gw.ok("POST", f"/keys/{old['id']}/rotate", json={"grace_seconds": 0})

    with pytest.raises(openai.AuthenticationError):
        gw.client(old["key"]).chat.completions.create(model="chat-default", messages=HELLO)
    gw.client(new["key"]).chat.completions.create(model="chat-default", messages=HELLO)


def test_key_stops_working_when_it_expires(gw: AuthGateway) -> None:
    created = gw.key(gw.team()["id"], expires_in=1)
    client = gw.client(created["key"])
    client.chat.completions.create(model="chat-default", messages=HELLO)

    time.sleep(1.2)

    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="chat-default", messages=HELLO)
