"""The classify and govern stages: label the call's data, then narrow where it may go."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Protocol

from tripoint.config.governance import GovernanceSettings
from tripoint.errors import InvalidRequestError, PermissionDeniedError
from tripoint.governance.policy import Subject, evaluate, rank
from tripoint.pipeline.call import Call, PolicyOutcome
from tripoint.pipeline.findings import InputScan
from tripoint.pipeline.stage import ChunkStream, Next
from tripoint.providers.target import Target

DATA_CLASS_HEADER = "x-tripoint-data-class"


class FindingScanner(Protocol):
    """Finds sensitive data in a call's input (the guardrails' detectors): its `kinds` are
    each type found (EMAIL_ADDRESS, AWS_ACCESS_KEY, ...) plus its umbrella, PII or SECRET;
    the findings themselves ride on the call, so the guardrails stage does not scan again."""

    async def scan(self, call: Call) -> InputScan: ...


class Classify:
    """The call's data class: the highest of the default, the team's floor, what the caller
    declares (which may raise, never lower it) and what the scanner found."""

    def __init__(self, settings: GovernanceSettings, scanner: FindingScanner | None) -> None:
        self._settings = settings
        self._scanner = scanner

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        scan = await self._scanner.scan(call) if self._scanner else None
        findings = scan.kinds if scan else frozenset()
        data_class = self.classify(call, findings)
        call.record.data_class = data_class
        classified = dataclasses.replace(call, data_class=data_class, findings=findings, scan=scan)
        async for chunk in call_next(classified):
            yield chunk

    def classify(self, call: Call, findings: frozenset[str]) -> str:
        settings = self._settings
        candidates = [settings.default_class]
        team = call.principal.team_label
        if team in settings.team_classes:
            candidates.append(settings.team_classes[team])
        declared = call.headers.get(DATA_CLASS_HEADER)
        if declared is not None:
            if declared not in settings.classes:
                raise InvalidRequestError(
                    f"{DATA_CLASS_HEADER} must be one of {list(settings.classes)}",
                    param=DATA_CLASS_HEADER,
                )
            candidates.append(declared)
        candidates += [settings.findings[f] for f in findings if f in settings.findings]
        return max(candidates, key=lambda c: rank(c, settings.classes))


class Govern:
    """Narrow the call's targets by policy; deny with 403 when nothing is left."""

    def __init__(
        self, settings: GovernanceSettings, routes: Mapping[str, Sequence[Target]]
    ) -> None:
        self._settings = settings
        self._routes = routes

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        subject = Subject(
            team=call.principal.team_label,
            model=call.model,
            data_class=call.data_class or self._settings.default_class,
            findings=call.findings,
        )
        verdict = evaluate(
            self._settings.policies, self._settings.classes, subject, call.targets, self._routes
        )
        call.record.policies.extend(
            PolicyOutcome(d.policy, d.effect, d.excluded, d.dry_run, d.rerouted_to)
            for d in verdict.decisions
        )
        if verdict.denied:
            raise PermissionDeniedError(
                f"Policy {verdict.denied_by!r} allows no backend for this call "
                f"(data class {subject.data_class!r}, model {call.model!r}).",
            )
        async for chunk in call_next(dataclasses.replace(call, targets=verdict.targets)):
            yield chunk
