"""The guardrails' PII and secret detectors as governance's data scanner: which sensitive types
a call's input holds (each type found, plus its umbrella PII or SECRET), never the text.

Classification runs before governance narrows the targets, so it cannot wait for the
guardrails stage (which runs later, after limits). It scans the input once with every PII and
secret check and hands the findings on with the call (`Call.scan`): the guardrails stage
judges those texts from them rather than running the same detectors again.
"""

from __future__ import annotations

from types import MappingProxyType

from tripoint.guardrails.engine import GuardrailEngine
from tripoint.guardrails.finding import Detector
from tripoint.guardrails.output import find_all
from tripoint.guardrails.pii import PiiDetector
from tripoint.guardrails.request_text import text_fields
from tripoint.guardrails.secrets import SecretDetector
from tripoint.pipeline.call import Call
from tripoint.pipeline.findings import InputScan
from tripoint.schema.oip import InferRequest

SCAN_TIMEOUT = 5.0  # seconds for the whole input; the guardrails' own limits apply later


class GuardrailFindings:
    def __init__(self, engine: GuardrailEngine, names: list[str]) -> None:
        self._engine = engine
        self._names = names

    async def scan(self, call: Call) -> InputScan:
        request = call.request
        if isinstance(request, InferRequest):
            return InputScan()
        checks: dict[str, Detector] = {
            name: guardrail.detector
            for name in self._names
            if isinstance(
                (guardrail := self._engine.get(name)).detector, PiiDetector | SecretDetector
            )
        }
        if not checks:
            return InputScan()
        # Checks that share one detector (same patterns, another action) share its run.
        runs: dict[int, tuple[str, Detector]] = {}
        for name, detector in checks.items():
            runs.setdefault(id(detector), (name, detector))
        texts = tuple(field.text for field in text_fields(request))
        found = await self._engine.run(SCAN_TIMEOUT, lambda: find_all(list(runs.values()), texts))
        ran_as = {name: runs[id(detector)][0] for name, detector in checks.items()}
        per_check = {
            name: tuple(tuple(f for f in texts_found if f.source == ran) for texts_found in found)
            for name, ran in ran_as.items()
        }
        kinds = {
            kind
            for name, detector in checks.items()
            for per_text in per_check[name]
            for f in per_text
            for kind in (f.kind, "SECRET" if isinstance(detector, SecretDetector) else "PII")
        }
        return InputScan(texts, MappingProxyType(per_check), frozenset(kinds))
