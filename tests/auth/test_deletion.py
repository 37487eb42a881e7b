"""Deleting teams and orgs: their keys are revoked at once, their users deleted, their names
freed; the audit log and the call ledger keep every entry. Only admins delete."""

from __future__ import annotations

import secrets
import time
from typing import Any

import openai
import pytest

from tests.auth.conftest import AuthGateway

HELLO = [{"role": "user", "content": "Hello"}]


def _member_of(gw: AuthGateway, team: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    email = f"dev-{secrets.token_hex(3)}@{team['id']}.example"
    user = gw.ok("POST", "/users", json={"team_id": team["id"], "email": email})
    return user, gw.key(team["id"], user_id=user["id"])


def test_deleting_a_team_revokes_its_keys_and_deletes_its_users_at_once(gw: AuthGateway) -> None:
    team = gw.team()
    user, user_key = _member_of(gw, team)
    service_key = gw.key(team["id"], name="service")
    gw.client(service_key["key"]).chat.completions.create(model="chat-default", messages=HELLO)

    deleted = gw.ok("DELETE", f"/teams/{team['id']}")

    assert (deleted["object"], deleted["id"]) == ("team", team["id"])
    assert sorted(deleted["keys_revoked"]) == sorted([user_key["id"], service_key["id"]])
    assert deleted["users_deleted"] == [user["id"]]
    for key in (user_key, service_key):
        with pytest.raises(openai.AuthenticationError):
            gw.client(key["key"]).models.list()
    assert gw.admin("GET", f"/teams/{team['id']}").status_code == 404
    assert gw.admin("GET", f"/users/{user['id']}").status_code == 404
    assert team["id"] not in [t["id"] for t in gw.ok("GET", "/teams")["data"]]
    kept = gw.ok("GET", "/keys", params={"team_id": team["id"], "include_revoked": "true"})
    assert {k["id"]: k["revoked_at"] is not None for k in kept["data"]} == {
        user_key["id"]: True,
        service_key["id"]: True,
    }


def test_a_deleted_teams_audit_entries_and_usage_are_kept(gw: AuthGateway) -> None:
    team = gw.team()
    key = gw.key(team["id"])
    gw.client(key["key"]).chat.completions.create(model="chat-default", messages=HELLO)
    usage_before = _team_calls(gw, team["id"], at_least=1)

    gw.ok("DELETE", f"/teams/{team['id']}")

    entries = gw.ok("GET", "/audit", params={"team_id": team["id"]})["data"]
    assert sorted(e["action"] for e in entries) == [
        "key.create",
        "key.revoke",
        "team.create",
        "team.delete",
    ]
    revoke = next(e for e in entries if e["action"] == "key.revoke")
    assert (revoke["target_id"], revoke["detail"]) == (
        key["id"],
        {"cause": f"team.delete {team['id']}"},
    )
    delete = next(e for e in entries if e["action"] == "team.delete")
    assert delete["detail"] == {"name": team["name"], "keys_revoked": 1, "users_deleted": 0}
    assert _team_calls(gw, team["id"], at_least=usage_before) == usage_before


def _team_calls(gw: AuthGateway, team_id: str, at_least: int) -> int:
    """The ledger is written in batches: wait (bounded) until it holds `at_least` calls."""
    deadline = time.monotonic() + 10
    while True:
        rows = gw.ok("GET", "/usage", params={"group_by": "team"})["data"]
        calls = sum(r["calls"] for r in rows if r["team"] == team_id)
        if calls >= at_least or time.monotonic() > deadline:
            return int(calls)
        time.sleep(0.1)


def test_deleting_an_org_deletes_every_team_in_it(gw: AuthGateway) -> None:
    org = gw.org()
    teams = [
        gw.ok("POST", "/teams", json={"org_id": org, "name": f"t-{secrets.token_hex(4)}"})
        for _ in range(2)
    ]
    keys = [gw.key(team["id"]) for team in teams]
    lead = gw.key(teams[0]["id"], role="team_admin")

    deleted = gw.ok("DELETE", f"/orgs/{org}")

    assert sorted(deleted["teams_deleted"]) == sorted(t["id"] for t in teams)
    assert sorted(deleted["keys_revoked"]) == sorted([k["id"] for k in keys] + [lead["id"]])
    for key in [*keys, lead]:
        assert gw.admin("GET", "/whoami", key=key["key"]).status_code == 401
    assert gw.admin("GET", f"/orgs/{org}").status_code == 404
    assert org not in [o["id"] for o in gw.ok("GET", "/orgs")["data"]]
    assert gw.admin("POST", "/teams", json={"org_id": org, "name": "late"}).status_code == 404
    audit = gw.ok("GET", "/audit", params={"target_id": org})["data"]
    assert audit[0]["action"] == "org.delete"
    assert audit[0]["detail"]["keys_revoked"] == 3
    team_entries = gw.ok("GET", "/audit", params={"action": "team.delete"})["data"]
    causes = {e["target_id"]: e["detail"].get("cause") for e in team_entries}
    assert {causes[t["id"]] for t in teams} == {f"org.delete {org}"}


def test_a_deleted_teams_name_and_its_users_emails_can_be_used_again(gw: AuthGateway) -> None:
    name = "reused-" + secrets.token_hex(4)
    old = gw.team(name=name)
    user, _ = _member_of(gw, old)
    gw.ok("DELETE", f"/teams/{old['id']}")

    new = gw.team(name=name)
    again = gw.ok("POST", "/users", json={"team_id": new["id"], "email": user["email"]})

    assert new["id"] != old["id"]
    assert again["id"] != user["id"]
    assert gw.admin("POST", "/teams", json={"org_id": gw.org(), "name": name}).status_code == 409


def test_deleting_twice_or_a_missing_id_is_404(gw: AuthGateway) -> None:
    team = gw.team()
    gw.ok("DELETE", f"/teams/{team['id']}")

    again = gw.admin("DELETE", f"/teams/{team['id']}")
    missing = gw.admin("DELETE", "/teams/team_0000000000000000")
    no_org = gw.admin("DELETE", "/orgs/org_0000000000000000")

    assert again.status_code == missing.status_code == no_org.status_code == 404
    assert again.json()["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("role", ["team_admin", "member", "viewer"])
def test_only_admins_delete_and_below_admin_every_id_answers_alike(
    gw: AuthGateway, role: str
) -> None:
    own, other = gw.team(), gw.team()
    caller = gw.key(own["id"], role=role)["key"]

    answers = [
        gw.admin("DELETE", f"/teams/{own['id']}", key=caller),
        gw.admin("DELETE", f"/teams/{other['id']}", key=caller),
        gw.admin("DELETE", "/teams/team_0000000000000000", key=caller),
        gw.admin("DELETE", f"/orgs/{other['org_id']}", key=caller),
    ]

    assert {a.status_code for a in answers} == {403}
    assert len({a.json()["error"]["message"] for a in answers}) == 1  # no existence oracle
    assert gw.admin("GET", f"/teams/{other['id']}").status_code == 200  # nothing happened
    assert gw.admin("GET", "/whoami", key=caller).status_code == 200
