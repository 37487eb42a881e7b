"""The cheap first layer: phrasings that are injections in any context.

Each rule needs an instruction-override shape (a verb aimed at the model's instructions,
a persona swap, a chat-template token), never a lone word: "ignore the noise in this data"
or "what does the system prompt do?" must pass. Their false positives are measured with the
classifier's in benchmarks/guardrails.py.
"""

from __future__ import annotations

import re

from tripoint.guardrails.finding import Finding

_PRIOR = (
    r"(?:all\s+|any\s+|the\s+|your\s+|my\s+|these\s+|those\s+)*"
    r"(?:previous|prior|above|earlier|preceding|original|initial|system|existing)"
)
_RULES: tuple[tuple[str, str], ...] = (
    (
        "override",
        rf"\b(?:ignore|disregard|forget|override|bypass|skip|drop)\s+{_PRIOR}\s+"
        r"(?:instructions?|prompts?|rules|directives|directions|guidelines|context|commands?|messages?)",
    ),
    (
        "override",
        r"\b(?:ignore|disregard|forget)\s+(?:everything|all)\s+(?:you\s+(?:were|have\s+been)\s+told"
        r"|(?:that\s+)?(?:came\s+)?(?:before|above))",
    ),
    (
        "new_instructions",
        r"(?:^|\n)\s*(?:new|updated|real|actual)\s+(?:system\s+)?instructions?\s*:",
    ),
    (
        "prompt_extraction",
        r"\b(?:reveal|print|show|output|repeat|display|leak|dump|tell\s+me)\s+"
        r"(?:me\s+)?(?:your|the)\s+(?:full\s+|entire\s+|exact\s+|original\s+|hidden\s+|secret\s+)*"
        r"(?:system\s+prompt|initial\s+instructions|hidden\s+instructions|system\s+message)"
        r"(?:\s+(?:verbatim|word\s+for\s+word))?",
    ),
    (
        "jailbreak_persona",
        r"\b(?:you\s+are\s+now|act\s+as|pretend\s+to\s+be|from\s+now\s+on\s+you\s+are)\s+"
        r"(?:a\s+|an\s+)?(?:DAN|STAN|DUDE|AIM|unfiltered|uncensored|unrestricted|jailbroken|evil)\b",
    ),
    (
        "jailbreak_persona",
        r"\b(?:do\s+anything\s+now|developer\s+mode\s+(?:enabled|on|activated))\b",
    ),
    (
        "no_restrictions",
        r"\b(?:without|free\s+(?:of|from)|no(?:\s+longer)?\s+(?:bound\s+by|have))\s+(?:any\s+)?"
        r"(?:ethical\s+|moral\s+|content\s+)?(?:restrictions|filters|guidelines|limitations|rules)"
        r"[^.\n]{0,40}\b(?:respond|answer|reply|comply)",
    ),
    (
        "template_token",
        r"<\|(?:im_start|im_end|system|endoftext)\|>|\[/?INST\]|<</?SYS>>|</?system>",
    ),
)
RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE)) for name, pattern in _RULES
)


class InjectionRules:
    """Thread-safe (compiled patterns only)."""

    name = "injection_rules"

    def find(self, text: str) -> list[Finding]:
        for name, pattern in RULES:
            match = pattern.search(text)
            if match:
                return [Finding(f"injection:{name}", 0, len(text))]
        return []
