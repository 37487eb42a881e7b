"""Policies route and deny across patterns and regions, for every team, data class and
declared header; fallback never escapes the allowed set; dry run only records."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread, free_port
from tripoint.cli import main
from tripoint.config import parse_settings
from tripoint.config.schema import Settings
from tripoint.gateway.gateway import Gateway, routes_of
from tripoint.governance.stages import Classify, Govern
from tripoint.pipeline.call import Call, Principal
from tripoint.pipeline.stage import ChunkStream, Next
from tripoint.schema.requests import ChatRequest

BACKENDS = {  # upstream model name -> (pattern, region, trains_on_data)
    "home-eu": ("self_hosted", "eu-west", False),
    "cloud-eu": ("cloud", "eu-central", False),
    "saas-us": ("saas", "us-east", True),
}
POLICIES = """
governance:
  team_classes: {eu-secure: confidential}
  policies:
    - name: restricted-stays-home
      when: {class_at_least: restricted}
      allow: {pattern: [self_hosted, local]}
    - name: eu-teams-stay-in-eu
      when: {team: ["eu-*"]}
      allow: {region: ["eu*"]}
    - name: no-training-beyond-public
      when: {class_at_least: internal}
      deny: {trains_on_data: true}
    - name: watch-confidential
      when: {class_at_least: confidential}
      deny: {pattern: [cloud]}
      mode: dry_run
"""


class HeaderPrincipal:
    """Stands in for authentication (its own issue): the team comes from a test header."""

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        team = call.headers.get("x-test-team") or None
        async for chunk in call_next(dataclasses.replace(call, principal=Principal("t", team))):
            yield chunk


def settings_for(
    upstream_url: str, targets: list[str], urls: dict[str, str] | None = None
) -> Settings:
    return parse_settings(yaml_for(upstream_url, targets, urls))


def yaml_for(upstream_url: str, targets: list[str], urls: dict[str, str] | None = None) -> str:
    backends = "".join(
        f"""
  {name}:
    type: openai
    base_url: {(urls or {}).get(name, upstream_url)}
    pattern: {pattern}
    region: {region}
    trains_on_data: {str(trains).lower()}
    timeouts: {{connect: 0.5, first_byte: 2, idle: 2, total: 5}}"""
        for name, (pattern, region, trains) in BACKENDS.items()
    )
    listed = ", ".join(f"{{backend: {t}, model: {t}}}" for t in targets)
    return f"""
backends:{backends}
models:
  m:
    targets: [{listed}]
  private: {{targets: [{{backend: home-eu, model: home-eu}}]}}
{POLICIES}
"""


def start(settings: Settings) -> GatewayThread:
    stages = {
        "authenticate": HeaderPrincipal(),
        "classify": Classify(settings.governance, scanner=None),
        "govern": Govern(settings.governance, routes_of(settings)),
    }
    return GatewayThread(settings, Gateway(settings, stages=stages)).start()


@pytest.fixture
def governed(upstream: FakeOpenAI) -> Iterator[httpx.Client]:
    server = start(settings_for(upstream.base_url, ["saas-us", "cloud-eu", "home-eu"]))
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http
    server.stop()


def allowed(team: str | None, data_class: str) -> list[str]:
    """The policies above, written out by hand."""
    ranks = ["public", "internal", "confidential", "restricted"]
    level = ranks.index(data_class)
    names = ["saas-us", "cloud-eu", "home-eu"]
    if level >= 3:
        names = [n for n in names if BACKENDS[n][0] in ("self_hosted", "local")]
    if team and team.startswith("eu-"):
        names = [n for n in names if BACKENDS[n][1].startswith("eu")]
    if level >= 1:
        names = [n for n in names if not BACKENDS[n][2]]
    return names


TEAMS = [None, "eu-research", "eu-secure", "us-sales"]
DECLARED = [None, "public", "internal", "confidential", "restricted"]


@pytest.mark.parametrize(("team", "declared"), list(itertools.product(TEAMS, DECLARED)))
def test_chosen_backend_satisfies_every_policy(
    governed: httpx.Client, upstream: FakeOpenAI, team: str | None, declared: str | None
) -> None:
    headers = {
        k: v for k, v in {"x-test-team": team, "x-tripoint-data-class": declared}.items() if v
    }
    floor = "confidential" if team == "eu-secure" else "internal"
    effective = max(
        [floor, declared or floor], key=["public", "internal", "confidential", "restricted"].index
    )

    response = governed.post(
        "/v1/chat/completions",
        headers=headers,
        json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
    )

    expected = allowed(team, effective)
    if not expected:
        assert response.status_code == 403
        assert "Policy" in response.json()["error"]["message"]
        assert upstream.calls == []
    else:
        assert response.status_code == 200
        assert response.headers["x-tripoint-backend"] == expected[0]
        assert [c.body["model"] for c in upstream.calls] == [expected[0]]


def test_fallback_never_escapes_the_allowed_set(upstream: FakeOpenAI) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # the only allowed target is down
    server = start(settings_for(upstream.base_url, ["home-eu", "saas-us"], {"home-eu": dead}))
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            response = http.post(
                "/v1/chat/completions",
                headers={"x-tripoint-data-class": "restricted"},
                json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
            )
    finally:
        server.stop()

    assert response.status_code == 502
    assert upstream.calls == []  # saas-us was never tried


def test_declared_class_may_raise_but_never_lower(governed: httpx.Client) -> None:
    lowered = governed.post(
        "/v1/chat/completions",
        headers={"x-test-team": "eu-secure", "x-tripoint-data-class": "public"},
        json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
    )
    unknown = governed.post(
        "/v1/chat/completions",
        headers={"x-tripoint-data-class": "top-secret"},
        json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
    )

    assert lowered.headers["x-tripoint-backend"] == "cloud-eu"  # still confidential
    assert unknown.status_code == 400
    assert unknown.json()["error"]["param"] == "x-tripoint-data-class"


async def test_dry_run_records_without_enforcing(upstream: FakeOpenAI) -> None:
    settings = settings_for(upstream.base_url, ["cloud-eu", "home-eu"])
    govern = Govern(settings.governance, routes_of(settings))
    gateway = Gateway(settings)
    request = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    call = gateway.call(ChatRequest.model_validate(request))
    call = dataclasses.replace(call, data_class="confidential")
    seen: list[Call] = []

    async def terminal(inner: Call) -> ChunkStream:
        seen.append(inner)
        return
        yield

    [c async for c in govern(call, terminal)]

    assert [t.label for t in seen[0].targets] == ["cloud-eu/cloud-eu", "home-eu/home-eu"]
    watch = next(p for p in call.record.policies if p.policy == "watch-confidential")
    assert watch.dry_run
    assert watch.excluded == ("cloud-eu/cloud-eu",)


async def test_reroute_sends_the_call_to_another_models_targets(upstream: FakeOpenAI) -> None:
    settings = settings_for(upstream.base_url, ["saas-us"])
    settings = settings.model_copy(
        update={
            "governance": parse_settings("""
backends: {a: {type: openai}}
models: {private: {targets: [{backend: a, model: x}]}}
governance:
  policies:
    - {name: pii-goes-home, when: {findings_any: [PII]}, reroute: private}
""").governance
        }
    )
    govern = Govern(settings.governance, routes_of(settings))
    call = Gateway(settings).call(
        ChatRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "x"}]})
    )
    seen: list[Call] = []

    async def terminal(inner: Call) -> ChunkStream:
        seen.append(inner)
        return
        yield

    [c async for c in govern(dataclasses.replace(call, findings=frozenset({"PII"})), terminal)]

    assert [t.label for t in seen[0].targets] == ["home-eu/home-eu"]
    assert call.record.policies[0].rerouted_to == "private"


def test_explain_names_the_policy_that_excluded_each_target(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml_for("http://127.0.0.1:9/v1", ["saas-us", "cloud-eu", "home-eu"]))

    result = CliRunner().invoke(
        main,
        ["governance", "explain", "--config", str(path), "--team", "eu-research", "--model", "m"],
    )

    assert result.exit_code == 0, result.output
    assert "ALLOWED  cloud-eu/cloud-eu" in result.output
    assert "ALLOWED  home-eu/home-eu" in result.output
    assert "EXCLUDED saas-us/saas-us  by policy eu-teams-stay-in-eu" in result.output
