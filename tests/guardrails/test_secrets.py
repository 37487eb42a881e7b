"""Secret detection: every provider format found exactly; look-alikes and examples pass."""

from __future__ import annotations

import pytest

from tests.guardrails.samples import BENIGN_SECRETS, SECRETS, run
from tripoint.guardrails.redaction import Vault, rewrite
from tripoint.guardrails.secrets import PROVIDER_PATTERNS, SecretDetector, detect_secrets_patterns


@pytest.fixture(scope="module")
def detector() -> SecretDetector:
    return SecretDetector(PROVIDER_PATTERNS + detect_secrets_patterns())


@pytest.mark.parametrize(
    ("kind", "around", "value"), SECRETS, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(SECRETS)]
)
def test_finds_each_secret_format_exactly(
    detector: SecretDetector, kind: str, around: str, value: str
) -> None:
    text = around.format(value)

    findings = detector.find(text)

    assert [(f.kind, text[f.start : f.end]) for f in findings] == [(kind, value)]


@pytest.mark.parametrize("text", BENIGN_SECRETS)
def test_passes_examples_placeholders_and_look_alikes(detector: SecretDetector, text: str) -> None:
    assert detector.find(text) == []


def test_redacts_adjacent_secrets_without_garbling_neighbours(detector: SecretDetector) -> None:
    github, aws = "ghp_" + run(36), "AKIA" + "Z7XQ2M4N6P8R0T3V"
    text = f"a={github},b={aws};c=keep me"

    redacted = rewrite(text, detector.find(text), "placeholder", Vault())

    assert redacted == "a=<GITHUB_TOKEN_1>,b=<AWS_ACCESS_KEY_ID_1>;c=keep me"


def test_same_secret_gets_the_same_placeholder(detector: SecretDetector) -> None:
    key = "sk-" + run(48)
    text = f"{key} and again {key}"

    redacted = rewrite(text, detector.find(text), "placeholder", Vault())

    assert redacted == "<OPENAI_KEY_1> and again <OPENAI_KEY_1>"


def test_operator_allowlist_passes_a_known_value() -> None:
    key = "ghp_" + run(36)
    detector = SecretDetector(PROVIDER_PATTERNS, allowlist=[key])

    assert detector.find(f"test fixture token {key}") == []
