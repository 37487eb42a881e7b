"""The config file is strict: every problem is reported with its path, secrets by reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from tripoint.config import load_settings, parse_settings
from tripoint.errors import ConfigError

VALID = """
backends:
  gpu:
    type: openai
    base_url: http://10.0.0.5:8000/v1
    pattern: self_hosted
    region: eu-west
    tags: [hipaa]
models:
  chat:
    targets: [{backend: gpu, model: llama}]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text)
    return caught.value.problems


def test_valid_config_builds_typed_settings() -> None:
    settings = parse_settings(VALID)

    backend = settings.backends["gpu"]
    assert backend.pattern == "self_hosted"
    assert backend.region == "eu-west"
    assert backend.tags == ("hipaa",)
    assert settings.models["chat"].targets[0].model == "llama"


def test_empty_file_is_the_empty_gateway() -> None:
    settings = parse_settings("")

    assert settings.backends == {}
    assert settings.models == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("servr: {}", "servr: unknown key 'servr'"),
        ("server: {prot: 1}", "server.prot: unknown key 'prot'"),
        (VALID.replace("region: eu-west", "regoin: eu-west"), "backends.gpu.regoin: unknown key"),
        (VALID.replace("pattern: self_hosted", "pattern: onprem"), "backends.gpu.pattern:"),
        (VALID.replace("type: openai", "type: nosuch"), "backends.gpu: Input tag 'nosuch'"),
        (
            VALID.replace("backend: gpu", "backend: cpu"),
            "models.chat.targets.0.backend: unknown backend 'cpu'",
        ),
        ("models: {chat: {targets: []}}", "models.chat.targets: Tuple should have at least 1"),
        ("server: {port: 70000}", "server.port: Input should be less than or equal to 65535"),
    ],
)
def test_each_problem_names_its_path(text: str, expected: str) -> None:
    found = problems(text)

    assert any(p.startswith(expected) for p in found), found


def test_every_problem_is_reported_not_only_the_first() -> None:
    found = problems("server: {prot: 1, hots: x}\nbackends: {a: {type: openai, urll: x}}")

    assert len(found) == 3


def test_invalid_yaml_reports_the_position() -> None:
    assert problems("models: [unclosed") == ["<config>: not valid YAML at line 1, column 18"]


def test_secret_reference_is_resolved_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UPSTREAM_KEY", "sk-canary-123")

    settings = parse_settings(VALID.replace("region: eu-west", "api_key: env:UPSTREAM_KEY"))

    key = settings.backends["gpu"].api_key
    assert key is not None
    assert key.get_secret_value() == "sk-canary-123"
    assert "sk-canary-123" not in repr(settings)


def test_secret_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("sk-file-secret\n")

    settings = parse_settings(VALID.replace("region: eu-west", f"api_key: file:{secret}"))

    key = settings.backends["gpu"].api_key
    assert key is not None
    assert key.get_secret_value() == "sk-file-secret"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sk-literal-canary", "secrets are references, not literals"),
        (
            "env:TRIPOINT_TEST_UNSET_VAR",
            "environment variable 'TRIPOINT_TEST_UNSET_VAR' is not set",
        ),
        ("file:/nonexistent/key", "cannot read secret file"),
    ],
)
def test_bad_secret_is_an_error_without_its_value(value: str, expected: str) -> None:
    found = problems(VALID.replace("region: eu-west", f"api_key: {value}"))

    assert len(found) == 1
    assert found[0].startswith("backends.gpu.api_key:")
    assert expected in found[0]
    assert "sk-literal-canary" not in found[0]


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml")
