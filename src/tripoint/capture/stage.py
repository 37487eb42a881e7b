"""The capture stage: for a team that opted in, keep the call's texts as the upstream saw
them (inside the guardrails stage, so after its input redaction, before any placeholder is
restored for the caller) and hand them to the writer when the call ends, whatever its end.

It never fails or delays a call: it keeps references to the request and the answer's texts
and appends to a queue; reading the request's texts, redacting and laying out happen in the
writer, off the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tripoint.capture.transcript import MARGIN, Capture, Transcript
from tripoint.config.governance import CaptureTeam, GovernanceSettings
from tripoint.governance.policy import rank
from tripoint.guardrails.request_text import Request
from tripoint.pipeline.call import Call
from tripoint.pipeline.stage import ChunkStream, Next
from tripoint.schema.oip import InferRequest


class CaptureSink(Protocol):
    """Takes a finished capture without blocking (the writer queues it)."""

    def put(self, capture: Capture) -> None: ...


class CaptureStage:
    def __init__(self, settings: GovernanceSettings, sink: CaptureSink) -> None:
        self._teams = settings.capture.teams
        self._classes: Sequence[str] = settings.classes
        self._default_class = settings.default_class
        self._sink = sink

    def rule(self, call: Call) -> CaptureTeam | None:
        """The team's opt-in, when this call may be captured: text, and not above its class."""
        team = call.principal.team_label
        rule = self._teams.get(team) if team is not None else None
        if rule is None:
            return None
        data_class = call.data_class or self._default_class
        if rank(data_class, self._classes) > rank(rule.max_class, self._classes):
            return None
        return rule

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        rule = self.rule(call)
        request = call.request
        if rule is None or isinstance(request, InferRequest):  # tensors are not captured
            async for chunk in call_next(call):
                yield chunk
            return
        answer = Transcript(rule.max_bytes + MARGIN)
        complete = False
        try:
            async for chunk in call_next(call):
                answer.add(chunk)
                yield chunk
            complete = True
        finally:
            self._sink.put(self._capture(call, request, rule, answer, complete=complete))

    def _capture(
        self,
        call: Call,
        request: Request,
        rule: CaptureTeam,
        answer: Transcript,
        *,
        complete: bool,
    ) -> Capture:
        record = call.record
        return Capture(
            request=request,
            request_id=record.request_id,
            wall_started=record.wall_started,
            team_id=call.principal.team,
            team_name=call.principal.team_label or "",
            model=call.model,
            operation=record.operation.value,
            data_class=call.data_class or self._default_class,
            max_bytes=rule.max_bytes,
            retention_days=rule.retention_days,
            answer=answer,
            complete=complete,
        )
