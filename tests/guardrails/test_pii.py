"""PII detection with Presidio, offline: pattern entities found, look-alikes pass."""

from __future__ import annotations

import pytest

from tripoint.config.guardrails import DEFAULT_PII_ENTITIES
from tripoint.guardrails.pii import PiiDetector, load_analyzer
from tripoint.guardrails.redaction import Vault, rewrite


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector(load_analyzer(DEFAULT_PII_ENTITIES), DEFAULT_PII_ENTITIES, 0.4, 256)


PII: list[tuple[str, str, str]] = [
    ("EMAIL_ADDRESS", "write to {} today", "jane.doe@example.com"),
    ("EMAIL_ADDRESS", "cc: {}", "ops+alerts@mail.tripoint.io"),
    ("PHONE_NUMBER", "call me on {} after five", "+1 415-555-0132"),
    ("PHONE_NUMBER", "my number is {}", "(212) 555-0198"),
    ("PHONE_NUMBER", "ring {} in London", "+44 20 7946 0958"),
    ("CREDIT_CARD", "card {} exp 12/29", "4111 1111 1111 1111"),
    ("CREDIT_CARD", "pay with {}", "5500-0000-0000-0004"),
    ("CREDIT_CARD", "amex {}", "378282246310005"),
    ("IBAN_CODE", "IBAN {} please", "DE89370400440532013000"),
    ("IBAN_CODE", "iban: {}", "GB82 WEST 1234 5698 7654 32"),
    ("IP_ADDRESS", "server at {} is down", "203.0.113.42"),
    ("IP_ADDRESS", "v6 {} works", "2001:db8:85a3::8a2e:370:7334"),
    ("US_SSN", "my SSN is {}", "536-22-1234"),
    ("MAC_ADDRESS", "device {} joined", "00:1B:44:11:3A:B7"),
    ("UK_NHS", "NHS number {}", "943 476 5919"),
]

BENIGN_PII: list[str] = [
    "The meeting is on 2024-03-15 at 10:30 in room 4.",
    "Version 1.2.3 fixed bug 4521; see ticket 88213.",
    "The card number 4111 1111 1111 1112 fails the Luhn check.",
    "IBAN DE89370400440532013001 has a bad checksum.",
    "Order #1234567 shipped; tracking 1Z999AA10123456784.",
    "Pi is 3.14159265358979 and e is 2.71828.",
    "Write an email to the team about the release.",
    "Population grew from 1,234,567 to 1,345,678.",
]


@pytest.mark.parametrize(
    ("kind", "around", "value"), PII, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(PII)]
)
def test_finds_each_pattern_entity(
    detector: PiiDetector, kind: str, around: str, value: str
) -> None:
    text = around.format(value)

    findings = detector.find(text)

    assert [(f.kind, text[f.start : f.end]) for f in findings] == [(kind, value)]


@pytest.mark.parametrize("text", BENIGN_PII)
def test_passes_numbers_that_only_look_like_pii(detector: PiiDetector, text: str) -> None:
    assert [f.kind for f in detector.find(text)] == []


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("mask", "mail ******************** or ***************"),
        ("placeholder", "mail <EMAIL_1> or <PHONE_1>"),
    ],
)
def test_redaction_modes(detector: PiiDetector, mode: str, expected: str) -> None:
    text = "mail jane.doe@example.com or +1 415-555-0132"

    assert rewrite(text, detector.find(text), mode, Vault()) == expected


def test_reversible_placeholders_remember_the_value(detector: PiiDetector) -> None:
    vault = Vault()
    text = "mail jane.doe@example.com"

    redacted = rewrite(text, detector.find(text), "reversible", vault)

    assert redacted == "mail <EMAIL_1>"
    assert vault.original("<EMAIL_1>") == "jane.doe@example.com"
