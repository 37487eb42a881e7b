"""The guardrails pipeline stage: screen every text of the request before the call, then
the answer as it streams. Fail closed: a check that errors or times out blocks (503) unless
it is configured `on_error: allow`; a request over the scan limit is rejected (413).
PII and secret checks judge from the classify stage's findings (`Call.scan`) where it
scanned the same text, so the input is scanned once per call."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from functools import partial

from tripoint.config.guardrails import GuardrailSettings
from tripoint.errors import ContentBlockedError, RequestTooLargeError, ServiceUnavailableError
from tripoint.guardrails.canary import CanaryDetector, new_token, plant
from tripoint.guardrails.engine import GuardrailEngine
from tripoint.guardrails.finding import Detector, Finding, Outcome, Verdict
from tripoint.guardrails.guardrail import Guardrail
from tripoint.guardrails.output import OutputFilter, find_all
from tripoint.guardrails.redaction import Vault
from tripoint.guardrails.request_text import text_fields, with_texts
from tripoint.pipeline.call import Call, GuardrailEvent
from tripoint.pipeline.call import Verdict as RecordVerdict
from tripoint.pipeline.stage import ChunkStream, Next
from tripoint.schema.oip import InferRequest
from tripoint.schema.requests import ChatRequest

log = logging.getLogger("tripoint.guardrails")


class GuardrailStage:
    def __init__(self, engine: GuardrailEngine, settings: GuardrailSettings) -> None:
        self._engine = engine
        self._settings = settings

    def select(self, call: Call) -> list[Guardrail]:
        """The model's list (or the default), plus the caller's team's additions."""
        policy = self._settings.apply
        names = list(policy.models.get(call.model, policy.default))
        names += policy.teams.get(call.principal.team or "", ())
        return [self._engine.get(n) for n in dict.fromkeys(names)]

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        if isinstance(call.request, InferRequest):  # tensors, not text: nothing to scan
            async for chunk in call_next(call):
                yield chunk
            return
        guardrails = self.select(call)
        vault = Vault()
        if guardrails:
            call, guardrails = await self._screen(call, guardrails, vault)
        outputs = [g for g in guardrails if "output" in g.directions]
        stream = call_next(call)
        if not outputs and not vault.reversible:
            try:
                async for chunk in stream:
                    yield chunk
            finally:
                await stream.aclose()
            return
        scan = partial(self._scan_many, call, outputs)
        flow = OutputFilter(
            outputs,
            vault,
            scan,
            hold=self._settings.window_chars,
            max_held=self._settings.max_held_chars,
        )
        filtered = flow.filter(stream)
        try:
            async for chunk in filtered:
                yield chunk
        finally:
            await filtered.aclose()
            await stream.aclose()
            _record_output(call, outputs, flow)

    # input -------------------------------------------------------------------------------
    async def _screen(
        self, call: Call, guardrails: list[Guardrail], vault: Vault
    ) -> tuple[Call, list[Guardrail]]:
        """Check every text; returns the call with redactions and canaries applied."""
        original = call.request
        if isinstance(original, InferRequest):
            return call, guardrails  # tensors, not text (the caller passes them through)
        fields = text_fields(original)
        if sum(len(f.text) for f in fields) > self._settings.max_scan_chars:
            raise RequestTooLargeError(
                f"The request has more text than the guardrails scan "
                f"({self._settings.max_scan_chars} characters); it was not sent."
            )
        texts = [f.text for f in fields]
        changed = False
        for guardrail in guardrails:
            if "input" not in guardrail.directions or isinstance(
                guardrail.detector, CanaryDetector
            ):
                continue
            picked = [
                i
                for i, f in enumerate(fields)
                if guardrail.roles is None or f.role in guardrail.roles
            ]
            shared = [
                call.scan.lookup(guardrail.name, i, texts[i]) if call.scan else None for i in picked
            ]
            job = partial(_check_all, guardrail, [texts[i] for i in picked], shared, vault)
            if all(found is not None for found in shared):
                verdicts: list[Verdict] | None = job()  # found before governance: judge only
            else:
                verdicts = await self._guarded(call, guardrail, "input", job)
            if verdicts is None:
                continue
            _record(call, guardrail, "input", verdicts)
            blocked = next((v for v in verdicts if v.outcome is Outcome.BLOCK), None)
            if blocked is not None:
                raise ContentBlockedError(f"The request was {blocked.reason}.")
            for i, verdict in zip(picked, verdicts, strict=True):
                if verdict.outcome is Outcome.REDACT and verdict.text is not None:
                    texts[i], changed = verdict.text, True
        request = with_texts(original, texts) if changed else original
        return _with_canaries(replace(call, request=request), guardrails)

    async def _guarded(
        self, call: Call, guardrail: Guardrail, direction: str, job: partial[list[Verdict]]
    ) -> list[Verdict] | None:
        try:
            return await self._engine.run(guardrail.timeout, job, scope=_scope(call))
        except Exception as exc:  # noqa: BLE001 -- whatever failed, the check did not happen
            _fail(call, [guardrail], direction, exc)
            return None

    # output ------------------------------------------------------------------------------
    async def _scan_many(
        self,
        call: Call,
        guardrails: Sequence[Guardrail],
        detectors: Sequence[tuple[str, Detector]],
        texts: Sequence[str],
    ) -> list[list[Finding]]:
        timeout = max((g.timeout for g in guardrails), default=2.0)
        try:
            return await self._engine.run(
                timeout, partial(find_all, detectors, texts), scope=_scope(call)
            )
        except Exception as exc:  # noqa: BLE001 -- whatever failed, the scan did not happen
            _fail(call, guardrails, "output", exc)
            return [[] for _ in texts]


def _scope(call: Call) -> str:
    """Whose memoised verdicts this call may reuse: its team's, else its caller's own."""
    principal = call.principal
    return f"team:{principal.team_label}" if principal.team_label else f"caller:{principal.id}"


def _check_all(
    guardrail: Guardrail,
    texts: list[str],
    shared: list[tuple[Finding, ...] | None],
    vault: Vault,
) -> list[Verdict]:
    """Verdicts per text, from the classify stage's findings where it scanned that text."""
    return [
        guardrail.check(text, vault) if found is None else guardrail.judge(text, found, vault)
        for text, found in zip(texts, shared, strict=True)
    ]


def _with_canaries(call: Call, guardrails: list[Guardrail]) -> tuple[Call, list[Guardrail]]:
    """A fresh canary token per call, planted in the system prompt (if there is one)."""
    if not isinstance(call.request, ChatRequest):
        return call, [g for g in guardrails if not isinstance(g.detector, CanaryDetector)]
    kept: list[Guardrail] = []
    request: ChatRequest = call.request
    for guardrail in guardrails:
        if not isinstance(guardrail.detector, CanaryDetector):
            kept.append(guardrail)
            continue
        token = new_token()
        planted = plant(request, token)
        if planted is not None:
            request = planted
            kept.append(replace(guardrail, detector=CanaryDetector(token)))
    return replace(call, request=request), kept


def _fail(call: Call, guardrails: Sequence[Guardrail], direction: str, exc: BaseException) -> None:
    """Record the failure; block unless every failing guardrail is configured to allow."""
    for guardrail in guardrails:
        event = GuardrailEvent(guardrail.name, direction, "error")
        if event not in call.record.guardrails:  # a stream may fail on several scans
            _note(call, event)
    names = ", ".join(g.name for g in guardrails)
    log.warning(
        "guardrail failed",
        extra={"request_id": call.request_id, "guardrails": names, "error": type(exc).__name__},
    )
    if any(g.fail_closed for g in guardrails):
        raise ServiceUnavailableError(
            f"The guardrail check ({names}) could not run, so the {direction} was blocked."
        ) from None


def _record(call: Call, guardrail: Guardrail, direction: str, verdicts: Sequence[Verdict]) -> None:
    found: dict[str, int] = {}
    for verdict in verdicts:
        for kind, count in verdict.findings.items():
            found[kind] = found.get(kind, 0) + count
    outcomes = {v.outcome for v in verdicts}
    outcome = next((o for o in (Outcome.BLOCK, Outcome.REDACT) if o in outcomes), Outcome.PASS)
    would = guardrail.would if guardrail.action == "log" and found else None
    _note(call, GuardrailEvent(guardrail.name, direction, outcome.value, found, would))


_ACTIONS = {"pass": "allow", "redact": "redact", "block": "block", "error": "error"}


def _note(call: Call, event: GuardrailEvent) -> None:
    """The audit's event (finding types and counts) and the metrics' verdict, never text."""
    call.record.guardrails.append(event)
    action = "flag" if event.would else _ACTIONS.get(event.outcome, event.outcome)
    call.record.verdicts.append(RecordVerdict(event.guardrail, action, event.direction))


def _record_output(call: Call, guardrails: Sequence[Guardrail], flow: OutputFilter) -> None:
    failed = {
        e.guardrail
        for e in call.record.guardrails
        if e.direction == "output" and e.outcome == "error"
    }
    for guardrail in guardrails:
        if guardrail.name in failed:
            continue  # its failure is the record: what it did see is not a verdict
        found = dict(flow.tally.counts.get(guardrail.name, {}))
        if flow.blocked_by == guardrail.name:
            outcome = "block"
        elif found and guardrail.action == "redact":
            outcome = "redact"
        else:
            outcome = "pass"
        would = guardrail.would if guardrail.action == "log" and found else None
        _note(call, GuardrailEvent(guardrail.name, "output", outcome, found, would))
