"""One batch line through the gateway's pipeline, as the submitting principal, at batch priority."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Protocol

from tripoint.batch import lines
from tripoint.batch.records import BatchJob, LineResult
from tripoint.errors import TripointError
from tripoint.pipeline.call import ANONYMOUS, Call, Principal, Priority
from tripoint.pipeline.stage import ChunkStream
from tripoint.providers.priority import BACKGROUND
from tripoint.schema import render
from tripoint.schema.chunks import ChatChunk, EmbeddingResult
from tripoint.schema.json import JSONObject


class Pipeline(Protocol):
    """What the runner needs of the gateway (kept as a protocol: stages sit below it)."""

    def call(
        self,
        request: lines.Request,
        *,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        principal: Principal = ANONYMOUS,
    ) -> Call: ...

    def run(self, call: Call) -> ChunkStream: ...


def principal_of(job: BatchJob) -> Principal:
    """The submitter, as recorded when the batch was created (anonymous on an open gateway)."""
    known = job.submitter
    if not known.get("id"):
        return ANONYMOUS
    models = known.get("models")
    return Principal(
        id=str(known["id"]),
        team=_opt(known.get("team")),
        team_name=_opt(known.get("team_name")),
        role=str(known.get("role", "member")),
        kind="batch",
        models=None if not isinstance(models, list) else frozenset(str(m) for m in models),
        key_id=_opt(known.get("key_id")),
    )


def snapshot(principal: Principal) -> dict[str, object]:
    return {
        "id": principal.id,
        "team": principal.team,
        "team_name": principal.team_name,
        "role": principal.role,
        "key_id": principal.key_id,
        "models": None if principal.models is None else sorted(principal.models),
    }


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


async def execute(
    pipeline: Pipeline,
    number: int,
    line: lines.Line | lines.BadLine,
    principal: Principal = ANONYMOUS,
) -> LineResult:
    """One line through the pipeline, as an interactive call; its outcome as an output line."""
    if isinstance(line, lines.BadLine):
        return LineResult(
            line.custom_id, number, False, lines.error_line(line.custom_id, line.code, line.message)
        )
    BACKGROUND.set(True)  # this task's calls yield to interactive traffic on shared engines
    try:
        call = replace(pipeline.call(line.request, principal=principal), priority=Priority.BATCH)
        body = await _answer(call, pipeline.run(call))
    except TripointError as exc:
        error: JSONObject = {
            "error": {
                "message": exc.message,
                "type": exc.type,
                "param": exc.param,
                "code": exc.code,
            }
        }
        code = exc.code or exc.type
        failed = lines.error_line(line.custom_id, code, exc.message, status=exc.status, body=error)
        return LineResult(line.custom_id, number, False, failed)
    done = lines.output_line(line.custom_id, call.request_id, body)
    return LineResult(line.custom_id, number, True, done)


async def _answer(call: Call, chunks: ChunkStream) -> JSONObject:
    try:
        gathered = [chunk async for chunk in chunks]
    finally:
        await chunks.aclose()
    ident = render.Identity(id=call.request_id, model=call.model)
    embedding = next((c for c in gathered if isinstance(c, EmbeddingResult)), None)
    if embedding is not None:
        return render.embedding_response_json(embedding, ident)
    whole = [c for c in gathered if isinstance(c, ChatChunk)]
    if call.operation.value == "chat":
        return render.chat_response_json(whole, replace(ident, id=f"chatcmpl-{call.request_id}"))
    return render.completion_response_json(whole, replace(ident, id=f"cmpl-{call.request_id}"))
