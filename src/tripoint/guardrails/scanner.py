"""The guardrails' PII and secret detectors as governance's data scanner: which sensitive types
a call's input holds (each type found, plus its umbrella PII or SECRET), never the text.

Classification runs before governance narrows the targets, so it cannot wait for the
guardrails stage (which runs later, after limits); it scans the input with the same detectors.
"""

from __future__ import annotations

from tripoint.guardrails.engine import GuardrailEngine
from tripoint.guardrails.output import find_all
from tripoint.guardrails.pii import PiiDetector
from tripoint.guardrails.request_text import text_fields
from tripoint.guardrails.secrets import SecretDetector
from tripoint.pipeline.call import Call
from tripoint.schema.oip import InferRequest


class GuardrailFindings:
    def __init__(self, engine: GuardrailEngine, names: list[str]) -> None:
        self._engine = engine
        self._names = names

    async def findings(self, call: Call) -> frozenset[str]:
        request = call.request
        if isinstance(request, InferRequest):
            return frozenset()
        detectors = [
            (name, guardrail.detector)
            for name in self._names
            if isinstance(
                (guardrail := self._engine.get(name)).detector, PiiDetector | SecretDetector
            )
        ]
        if not detectors:
            return frozenset()
        texts = [field.text for field in text_fields(request)]
        found = await self._engine.run(5.0, lambda: find_all(detectors, texts))
        kinds: set[str] = set()
        for per_text in found:
            for finding in per_text:
                kinds.add(finding.kind)
                umbrella = (
                    "SECRET"
                    if isinstance(self._engine.get(finding.source).detector, SecretDetector)
                    else "PII"
                )
                kinds.add(umbrella)
        return frozenset(kinds)
