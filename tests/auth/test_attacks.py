"""Bad credentials, cross-team probing and over-reaching team admins: refused, with no oracle."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.auth.conftest import AuthGateway

CHAT = {"model": "chat-default", "messages": [{"role": "user", "content": "Hi"}]}
UNKNOWN_KEY = "tk-" + "A" * 43
INVALID = {
    "error": {
        "message": "Invalid authentication credentials.",
        "type": "authentication_error",
        "param": None,
        "code": "invalid_api_key",
    }
}


def _revoked(gw: AuthGateway) -> str:
    created = gw.key(gw.team()["id"])
    gw.ok("POST", f"/keys/{created['id']}/revoke")
    return str(created["key"])


def _expired(gw: AuthGateway) -> str:
    created = gw.key(gw.team()["id"], expires_in=1)
    time.sleep(1.1)
    return str(created["key"])


BAD_HEADERS: dict[str, Any] = {
    "basic scheme": lambda gw: {"Authorization": "Basic dXNlcjpwYXNz"},
    "empty bearer": lambda gw: {"Authorization": "Bearer"},
    "short key": lambda gw: {"Authorization": "Bearer tk-short"},
    "garbage": lambda gw: {"Authorization": "Bearer ' OR '1'='1"},
    "jwt-shaped garbage": lambda gw: {"Authorization": "Bearer eyJhbGciOi.eyJzdWIi.sig"},
    "unknown key": lambda gw: {"Authorization": f"Bearer {UNKNOWN_KEY}"},
    "unknown x-api-key": lambda gw: {"x-api-key": UNKNOWN_KEY},
    "revoked key": lambda gw: {"Authorization": f"Bearer {_revoked(gw)}"},
    "expired key": lambda gw: {"x-api-key": _expired(gw)},
    "huge header": lambda gw: {"Authorization": "Bearer tk-" + "a" * 9000},
}


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/models", "/admin/whoami"])
def test_bad_credentials_get_one_indistinguishable_401(
    gw: AuthGateway, case: str, path: str
) -> None:
    headers = BAD_HEADERS[case](gw)

    response = gw.session.request(
        "POST" if path.endswith("completions") else "GET", path, headers=headers, json=CHAT
    )

    assert response.status_code == 401
    assert response.json() == INVALID


def test_missing_credentials_get_401_before_the_body_is_read(gw: AuthGateway) -> None:
    response = gw.session.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_strangers_learn_nothing_about_models(gw: AuthGateway) -> None:
    known = gw.session.post("/v1/chat/completions", json=CHAT, headers={"x-api-key": UNKNOWN_KEY})
    unknown = gw.session.post(
        "/v1/chat/completions",
        json={**CHAT, "model": "nope"},
        headers={"x-api-key": UNKNOWN_KEY},
    )

    assert known.status_code == unknown.status_code == 401
    assert known.json() == unknown.json()


# cross-team: another team's objects answer exactly like missing ones ---------------------------
@pytest.fixture
def two_teams(gw: AuthGateway) -> dict[str, Any]:
    a, b = gw.team(), gw.team()
    admin_a = gw.key(a["id"], role="team_admin")["key"]
    user_b = gw.ok("POST", "/users", json={"team_id": b["id"], "email": f"{b['id']}@b.example"})
    key_b = gw.key(b["id"], user_id=user_b["id"])
    audit_b = gw.ok("GET", "/audit", params={"team_id": b["id"], "limit": 1})["data"][0]
    return {
        "a": a,
        "b": b,
        "admin_a": admin_a,
        "user_b": user_b,
        "key_b": key_b,
        "audit_b": audit_b,
    }


def _same_as_missing(
    gw: AuthGateway, key: str, method: str, path: str, real_id: str, **kw: Any
) -> None:
    real = gw.admin(method, path.format(real_id), key=key, **kw)
    fake_id = "x" * len(real_id)
    missing = gw.admin(method, path.format(fake_id), key=key, **kw)
    assert real.status_code == missing.status_code == 404, (real.text, missing.text)
    assert real.json()["error"] | {"message": ""} == missing.json()["error"] | {"message": ""}
    assert (
        real.json()["error"]["message"].replace(real_id, fake_id)
        == missing.json()["error"]["message"]
    )


@pytest.mark.parametrize(
    ("method", "path", "object_", "body"),
    [
        ("GET", "/teams/{}", "b", None),
        ("PATCH", "/teams/{}", "b", {"metadata": {}}),
        ("GET", "/users/{}", "user_b", None),
        ("PATCH", "/users/{}", "user_b", {"disabled": True}),
        ("GET", "/keys/{}", "key_b", None),
        ("PATCH", "/keys/{}", "key_b", {"name": "mine"}),
        ("POST", "/keys/{}/revoke", "key_b", None),
        ("POST", "/keys/{}/rotate", "key_b", None),
        ("GET", "/audit/{}", "audit_b", None),
    ],
)
def test_team_admin_cannot_see_or_touch_another_team(
    gw: AuthGateway, two_teams: dict[str, Any], *, method: str, path: str, object_: str, body: Any
) -> None:
    target = two_teams[object_]["id"]
    kwargs = {"json": body} if body is not None else {}

    if method == "PATCH" and object_ == "b":  # changing teams needs admin: refused before lookup
        assert (
            gw.admin(method, path.format(target), key=two_teams["admin_a"], **kwargs).status_code
            == 403
        )
        return
    _same_as_missing(gw, two_teams["admin_a"], method, path, target, **kwargs)

    assert gw.ok("GET", "/keys/" + two_teams["key_b"]["id"])["revoked_at"] is None


def test_team_admin_lists_only_its_own_team(gw: AuthGateway, two_teams: dict[str, Any]) -> None:
    key = two_teams["admin_a"]
    b = two_teams["b"]["id"]

    assert gw.ok("GET", "/keys", key=key, params={"team_id": b})["data"] == []
    assert gw.ok("GET", "/users", key=key, params={"team_id": b})["data"] == []
    assert gw.ok("GET", "/audit", key=key, params={"team_id": b})["data"] == []
    assert [t["id"] for t in gw.ok("GET", "/teams", key=key)["data"]] == [two_teams["a"]["id"]]
    assert {e["team_id"] for e in gw.ok("GET", "/audit", key=key)["data"]} == {two_teams["a"]["id"]}


def test_team_admin_cannot_mint_into_another_team(
    gw: AuthGateway, two_teams: dict[str, Any]
) -> None:
    response = gw.admin(
        "POST", "/keys", key=two_teams["admin_a"], json={"team_id": two_teams["b"]["id"]}
    )

    assert response.status_code == 404


# over-reaching team admins and unknown fields ---------------------------------------------------
@pytest.fixture
def narrow_team_admin(gw: AuthGateway) -> dict[str, Any]:
    team = gw.team(models=["chat-default", "chat-premium"])
    created = gw.key(team["id"], role="team_admin", models=["chat-default"], expires_in=3600)
    return {"team": team, "key": created["key"]}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"role": "admin", "expires_in": 60}, "role"),
        ({"models": ["chat-premium"], "expires_in": 60}, "models"),
        ({"models": ["chat-default", "embed-default"], "expires_in": 60}, "models"),
        ({"expires_in": 7200}, "expires_at"),
        ({}, "expires_at"),  # no expiry would outlive the minting key
        ({"max_budget": 1000, "expires_in": 60}, "max_budget"),
        ({"expires_in": 60, "is_admin": True}, "is_admin"),
    ],
)
def test_team_admin_cannot_mint_beyond_its_own_rights(
    gw: AuthGateway, narrow_team_admin: dict[str, Any], body: dict[str, Any], param: str
) -> None:
    response = gw.admin("POST", "/keys", key=narrow_team_admin["key"], json=body)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["param"] == param


def test_team_admin_mints_within_its_rights(
    gw: AuthGateway, narrow_team_admin: dict[str, Any]
) -> None:
    created = gw.ok("POST", "/keys", key=narrow_team_admin["key"], json={"expires_in": 60})

    assert created["team_id"] == narrow_team_admin["team"]["id"]
    assert created["models"] == ["chat-default"]  # inherits the minter's narrowing
    assert created["role"] == "member"


def test_team_admin_cannot_create_users_above_itself(
    gw: AuthGateway, narrow_team_admin: dict[str, Any]
) -> None:
    response = gw.admin(
        "POST",
        "/users",
        key=narrow_team_admin["key"],
        json={"email": "boss@x.example", "role": "admin"},
    )

    assert response.status_code == 422
    assert response.json()["error"]["param"] == "role"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/orgs"),
        ("POST", "/teams"),
        ("POST", "/users"),
        ("POST", "/keys"),
        ("PATCH", "/keys/x"),
    ],
)
def test_unknown_fields_in_admin_bodies_are_rejected(
    gw: AuthGateway, method: str, path: str
) -> None:
    response = gw.admin(method, path, json={"surprise": 1})

    assert response.status_code == 422
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_member_cannot_use_admin_writes(gw: AuthGateway) -> None:
    member = gw.key(gw.team()["id"])["key"]

    response = gw.admin("POST", "/keys", key=member, json={})

    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"
