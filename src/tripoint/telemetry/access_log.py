"""One structured access line per call on the `tripoint.access` logger: ids and numbers only."""

from __future__ import annotations

import logging

from tripoint.pipeline.call import Record

MAX_MODEL_CHARS = 128  # a client-chosen model name is echoed, but never without bound


def access_fields(record: Record) -> dict[str, object]:
    """The record as flat, log-friendly fields: no prompt, no completion, no key."""
    target = record.target
    fields: dict[str, object] = {
        "request_id": record.request_id,
        "principal": record.principal_id,
        "model": record.model[:MAX_MODEL_CHARS],
        "operation": record.operation.value,
        "stream": record.stream,
        "backend": target.backend.name if target else None,
        "upstream_model": target.model if target else None,
        "pattern": target.backend.pattern if target else None,
        "status": record.status,
        "error_type": record.error_type,
        "attempts": len(record.upstream),
        "input_tokens": record.usage.prompt_tokens if record.usage else None,
        "output_tokens": record.usage.completion_tokens if record.usage else None,
        "latency_ms": _ms(record.finished_at, record.started),
        "ttft_ms": _ms(record.first_chunk_at, record.started) if record.stream else None,
        "upstream_ms": round(record.upstream_seconds * 1000, 3) if record.upstream else None,
    }
    if record.cost is not None:
        fields["cost_usd"] = record.cost
    if record.limited is not None:
        fields["limited"] = record.limited
    if record.verdicts:
        fields["guardrails"] = [f"{v.guardrail}:{v.action}" for v in record.verdicts]
    if record.decisions:
        fields["policies"] = [f"{d.policy}:{d.effect}" for d in record.decisions]
    if record.cache_hit is not None:
        fields["cache_hit"] = record.cache_hit
    if record.trace_id is not None:
        fields["trace_id"] = record.trace_id
    return fields


class AccessLog:
    name = "access_log"

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger("tripoint.access")

    def write(self, record: Record) -> None:
        level = logging.WARNING if record.status >= 500 else logging.INFO
        if self._log.isEnabledFor(level):  # build the fields only for a line that is written
            self._log.log(level, "call", extra=access_fields(record))


def _ms(end: float | None, start: float) -> float | None:
    return None if end is None else round((end - start) * 1000, 3)
