"""The operator CLI mirrors the admin API: orgs, teams, keys on the configured database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from click.testing import CliRunner

from tests.auth.conftest import Secrets, auth_settings, auth_yaml
from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread
from tripoint.admin_cli import duration
from tripoint.cli import main


class Cli:
    def __init__(self, config: Path, secret: Secrets) -> None:
        self.config = config
        self.env = secret.env()

    def __call__(self, *args: str, code: int = 0) -> Any:
        result = CliRunner().invoke(main, [*args, "--config", str(self.config)], env=self.env)
        assert result.exit_code == code, result.output
        return json.loads(result.stdout) if code == 0 and result.stdout.strip() else result.output


@pytest.fixture
def cli(dsn: str, tmp_path: Path, fake_openai: FakeOpenAI) -> Cli:
    config = tmp_path / "tripoint.yaml"
    config.write_text(auth_yaml(fake_openai.base_url, tmp_path))
    return Cli(config, Secrets(dsn=dsn))


def test_keys_made_by_the_cli_work_through_the_openai_sdk(
    cli: Cli, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    org = cli("orgs", "create", "acme")
    team = cli(
        "teams", "create", "search", "--org", org["id"], "--models", "chat-default,chat-premium"
    )
    created = cli(
        "keys", "create", "--team", team["id"], "--models", "chat-premium", "--expires", "30d"
    )
    secret = Secrets(dsn=cli.env["TRIPOINT_TEST_DSN"], pepper=cli.env["TRIPOINT_TEST_PEPPER"])
    server = GatewayThread(auth_settings(fake_openai.base_url, secret, tmp_path)).start()
    try:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=created["key"], max_retries=0)
        listed = [m.id for m in client.models.list()]
    finally:
        server.stop()

    assert listed == ["chat-premium"]
    assert created["models"] == ["chat-premium"]
    assert created["expires_at"] is not None


def test_teams_and_orgs_may_be_named_instead_of_identified(cli: Cli) -> None:
    cli("orgs", "create", "acme")
    team = cli("teams", "create", "search", "--org", "acme")

    created = cli(
        "keys", "create", "--team", "search", "--models", "chat-default", "--expires", "30d"
    )
    listed = cli("keys", "list", "--team", "search")

    assert created["team_id"] == team["id"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "No team" in cli("keys", "create", "--team", "nonesuch", code=1)


def test_keys_list_shows_prefixes_and_revoke_takes_a_key_out(cli: Cli) -> None:
    org = cli("orgs", "create", "acme")
    team = cli("teams", "create", "search", "--org", org["id"])
    created = cli("keys", "create", "--team", team["id"], "--name", "ci")

    listed = cli("keys", "list", "--team", team["id"])
    revoked = cli("keys", "revoke", created["id"])
    after = cli("keys", "list", "--team", team["id"])
    everything = cli("keys", "list", "--team", team["id"], "--all")

    assert [(k["id"], k["prefix"], k["last4"]) for k in listed] == [
        (created["id"], created["key"][:8], created["key"][-4:])
    ]
    assert created["key"] not in json.dumps(listed)
    assert revoked["revoked_at"] is not None
    assert after == []
    assert [k["id"] for k in everything] == [created["id"]]


def test_cli_actions_are_audited_as_the_operator(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    org = cli("orgs", "create", "acme")
    team = cli("teams", "create", "search", "--org", org["id"])

    rotated = cli(
        "keys", "rotate", cli("keys", "create", "--team", team["id"])["id"], "--grace", "1h"
    )

    entries = cli("audit", "list")
    assert rotated["key"].startswith("tk-")
    assert [e["action"] for e in entries] == [
        "key.rotate",
        "key.create",
        "team.create",
        "org.create",
    ]
    assert {(e["actor"], e["actor_role"], e["source"]) for e in entries} == {
        ("cli:ops", "admin", "cli")
    }


def test_cli_refuses_what_the_api_refuses(cli: Cli) -> None:
    org = cli("orgs", "create", "acme")
    team = cli("teams", "create", "search", "--org", org["id"], "--models", "chat-default")

    widened = cli("keys", "create", "--team", team["id"], "--models", "chat-premium", code=1)
    unknown = cli("keys", "revoke", "key_doesnotexist", code=1)

    assert "widen" in widened
    assert "No key" in unknown


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("12h", 43200), ("30d", 2592000)]
)
def test_durations_read_like_people_write_them(text: str, seconds: int) -> None:
    assert duration(text) == seconds


def test_deleting_by_the_cli_revokes_keys_and_is_audited(cli: Cli) -> None:
    org = cli("orgs", "create", "acme")
    kept = cli("teams", "create", "search", "--org", org["id"])
    gone = cli("teams", "create", "ads", "--org", org["id"])
    key = cli("keys", "create", "--team", "ads")
    other = cli("keys", "create", "--team", "search")

    deleted = cli("teams", "delete", "ads", "--yes")
    refused = cli("teams", "delete", "ads", "--yes", code=1)
    whole = cli("orgs", "delete", "acme", "--yes")

    assert (deleted["id"], deleted["keys_revoked"]) == (gone["id"], [key["id"]])
    assert "No team" in refused
    assert (whole["teams_deleted"], whole["keys_revoked"]) == ([kept["id"]], [other["id"]])
    assert cli("keys", "list") == []
    assert cli("orgs", "list") == []
    actions = [e["action"] for e in cli("audit", "list", "--limit", "3")]
    assert actions[0] == "org.delete"
