"""Rewrite found values: mask, typed placeholders (`<EMAIL_1>`), or reversible placeholders.

One `Vault` per call numbers the values, so the same email is `<EMAIL_1>` everywhere in the
request, and reversible placeholders the model echoes are restored for the same caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tripoint.guardrails.finding import Finding

# Short, readable labels for the commonest kinds; anything else is its upper-cased kind.
LABELS: Mapping[str, str] = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "IBAN_CODE": "IBAN",
    "IP_ADDRESS": "IP",
    "password_assignment": "PASSWORD",
    "connection_string_password": "PASSWORD",
}
PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*_\d{1,6}>")
MASK = "*"


def label(kind: str) -> str:
    if kind in LABELS:
        return LABELS[kind]
    return re.sub(r"[^A-Z0-9]+", "_", kind.upper()).strip("_") or "SECRET"


@dataclass(slots=True)
class Vault:
    """Per call: each distinct value gets one placeholder; reversible ones can come back.

    Touched only from the call's own task, so it needs no lock.
    """

    _by_value: dict[tuple[str, str], str] = field(default_factory=dict)
    _numbers: dict[str, int] = field(default_factory=dict)
    _originals: dict[str, str] = field(default_factory=dict)  # placeholder -> value

    def placeholder(self, kind: str, value: str, *, reversible: bool) -> str:
        tag = label(kind)
        key = (tag, value)
        if key not in self._by_value:
            number = self._numbers.get(tag, 0) + 1
            self._numbers[tag] = number
            self._by_value[key] = f"<{tag}_{number}>"
        name = self._by_value[key]
        if reversible:
            self._originals[name] = value
        return name

    def skip_present(self, texts: Sequence[str]) -> None:
        """Number new placeholders after those already in `texts` (a request redacted by the
        call's own guardrails), so two different values never share one placeholder."""
        for text in texts:
            for found in PLACEHOLDER.finditer(text):
                tag, _, number = found.group()[1:-1].rpartition("_")
                self._numbers[tag] = max(self._numbers.get(tag, 0), int(number))

    @property
    def reversible(self) -> bool:
        return bool(self._originals)

    def original(self, placeholder: str) -> str | None:
        return self._originals.get(placeholder)


def replacement(finding: Finding, value: str, mode: str, vault: Vault) -> str:
    if mode == "mask":
        return MASK * len(value)
    return vault.placeholder(finding.kind, value, reversible=mode == "reversible")


def rewrite(text: str, findings: Sequence[Finding], mode: str, vault: Vault) -> str:
    """`text` with each (disjoint) finding replaced; text between findings is kept as is."""
    parts: list[str] = []
    at = 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start < at:
            continue  # overlaps one already replaced
        parts.append(text[at : finding.start])
        parts.append(replacement(finding, text[finding.start : finding.end], mode, vault))
        at = finding.end
    parts.append(text[at:])
    return "".join(parts)


class PlaceholderRestorer:
    """Finds this call's reversible placeholders in output, to put the values back."""

    name = "restore"
    longest = 40

    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def find(self, text: str) -> list[Finding]:
        return [
            Finding("placeholder", m.start(), m.end())
            for m in PLACEHOLDER.finditer(text)
            if self._vault.original(m.group()) is not None
        ]

    def restore(self, text: str) -> str:
        return PLACEHOLDER.sub(lambda m: self._vault.original(m.group()) or m.group(), text)
