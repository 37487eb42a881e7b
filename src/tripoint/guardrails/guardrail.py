"""A configured guardrail: a detector plus what to do about its findings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tripoint.guardrails.finding import Detector, Finding, Outcome, Verdict, counts
from tripoint.guardrails.redaction import Vault, rewrite


@dataclass(frozen=True, slots=True)
class Guardrail:
    """`check(text)` answers pass, redact (with the new text) or block (with a reason).

    With `action="log"` (shadow mode) it always passes; the verdict still carries the findings
    and `would` says what enforcing it would have done.
    """

    name: str
    detector: Detector
    action: str  # block | redact | log
    redaction: str = "placeholder"  # mask | placeholder | reversible
    directions: frozenset[str] = frozenset({"input", "output"})
    roles: frozenset[str] | None = None  # chat roles scanned on input; None: every role
    fail_closed: bool = True
    timeout: float = 2.0
    redacts: bool = True  # False for whole-text detectors (injection, canary): never rewrite

    @property
    def would(self) -> str:
        """What this guardrail does when enforcing: shadow mode records this."""
        return "redact" if self.redacts and self.redaction else "block"

    def check(self, text: str, vault: Vault) -> Verdict:
        return self.judge(text, self.detector.find(text), vault)

    def judge(self, text: str, findings: Sequence[Finding], vault: Vault) -> Verdict:
        if not findings:
            return Verdict.passed()
        found = counts(findings)
        if self.action == "log":
            return Verdict(Outcome.PASS, findings=found)
        if self.action == "redact" and self.redacts:
            return Verdict(
                Outcome.REDACT, text=rewrite(text, findings, self.redaction, vault), findings=found
            )
        return Verdict(Outcome.BLOCK, reason=self.reason(found), findings=found)

    def reason(self, found: dict[str, int]) -> str:
        return f"blocked by guardrail {self.name!r} ({', '.join(sorted(found))})"
