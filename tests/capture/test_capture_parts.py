"""The parts of capture on their own: the config refuses raw capture, the stored document is
cut by bytes after redaction, overlapping findings are replaced whole, and the writer drops a
capture it cannot redact (never storing it raw) without touching the call."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tripoint.capture.stage import CaptureStage
from tripoint.capture.tables import ContentRow
from tripoint.capture.transcript import Capture, Piece, Transcript, document
from tripoint.capture.writer import ContentWriter
from tripoint.config import parse_settings
from tripoint.config.governance import CaptureTeam, GovernanceSettings
from tripoint.errors import ConfigError, ServiceUnavailableError, UpstreamError
from tripoint.guardrails.finding import Finding
from tripoint.guardrails.redaction import Vault
from tripoint.guardrails.scrubber import merged
from tripoint.pipeline.call import Call, Operation, Principal, Record
from tripoint.schema.chunks import ChatChunk, ChoiceDelta, Chunk, ToolCallDelta
from tripoint.schema.requests import ChatRequest
from tripoint.storage.database import URL, Database

AUTH = "auth: {pepper: env:TRIPOINT_TEST_PEPPER}\n"
OPT_IN = "governance: {capture: {teams: {red: {max_class: internal}}}}\n"
PII = "guardrails: {checks: {pii: {type: pii, action: log}}}\n"


def _problems(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text)
    return "\n".join(caught.value.problems)


@pytest.fixture(autouse=True)
def _pepper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIPOINT_TEST_PEPPER", "pepper-" + "x" * 32)


def test_capture_without_a_redacting_check_is_refused() -> None:
    assert "always stored redacted, never raw" in _problems(AUTH + OPT_IN)
    injection_only = "guardrails: {checks: {inj: {type: injection, classifier: false}}}\n"
    assert "never raw" in _problems(AUTH + OPT_IN + injection_only)


def test_capture_needs_auth_and_known_classes() -> None:
    assert "needs `auth`" in _problems(OPT_IN + PII)
    assert "unknown data classes ['secret']" in _problems(
        AUTH + PII + "governance: {capture: {teams: {red: {max_class: secret}}}}\n"
    )
    assert parse_settings(AUTH + OPT_IN + PII).governance.capture.teams["red"].max_bytes == 65_536


def _capture(text: str = "hi") -> Capture:
    request = ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": text}]}
    )
    return Capture(
        request=request, request_id="r1", wall_started=time.time(), team_id="team_1",
        team_name="red", model="m", operation="chat", data_class="internal", max_bytes=1000,
        retention_days=1, answer=Transcript(limit=1000), complete=True,
    )  # fmt: skip


def test_document_is_cut_by_utf8_bytes_never_inside_a_character() -> None:
    pieces = [Piece("request", 0, "user", "héé"), Piece("response", 0, "text", "ok")]

    request, response, truncated = document(pieces, [(0, "stop")], max_bytes=4)

    assert request == [{"role": "user", "text": "hé"}]  # h(1) é(2) and half an é dropped
    assert response == [{"index": 0, "text": "", "finish_reason": "stop"}]
    assert truncated is True


def _tools(*calls: ToolCallDelta, finish: str | None = None) -> ChatChunk:
    return ChatChunk(choices=(ChoiceDelta(tool_calls=calls, finish_reason=finish),))


def test_streamed_tool_calls_are_assembled_in_order() -> None:
    transcript = Transcript(limit=1000)
    for chunk in (
        _tools(ToolCallDelta(10, name="late")),
        _tools(ToolCallDelta(2, name="f", arguments='{"a"')),
        _tools(ToolCallDelta(2, arguments=": 1}")),
        _tools(finish="tool_calls"),
    ):
        transcript.add(chunk)

    _, response, _ = document(transcript.pieces(), [(0, "tool_calls")], 1000)

    assert response == [
        {"index": 0, "finish_reason": "tool_calls",
         "tool_calls": [{"index": 2, "name": "f", "arguments": '{"a": 1}'},
                        {"index": 10, "name": "late"}]}
    ]  # fmt: skip


def test_transcript_stops_keeping_text_past_its_limit() -> None:
    transcript = Transcript(limit=5)

    for word in ("abc", "def", "ghi"):
        transcript.add(ChatChunk(choices=(ChoiceDelta(text=word),)))

    assert [p.text for p in transcript.pieces()] == ["abcde"]
    assert transcript.clipped is True


def test_overlapping_findings_are_replaced_as_one_span() -> None:
    found = [
        (Finding("EMAIL_ADDRESS", 0, 10), "placeholder"),
        (Finding("URL", 5, 30), "placeholder"),
        (Finding("PHONE_NUMBER", 40, 50), "mask"),
    ]

    spans = merged(found)

    assert [span for span, _ in spans] == [(0, 30), (40, 50)]
    assert spans[0][1][0].kind == "EMAIL_ADDRESS"


def test_new_placeholders_are_numbered_after_those_already_in_the_text() -> None:
    vault = Vault()
    vault.skip_present(["write to <EMAIL_2> or <EMAIL_1>"])

    assert vault.placeholder("EMAIL_ADDRESS", "x@y.z", reversible=False) == "<EMAIL_3>"


class _Broken:
    def redact(self, texts: Sequence[str]) -> list[str]:
        raise RuntimeError("detector crashed")


async def _stored(database: Database) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(ContentRow)) or 0)


async def test_a_capture_that_cannot_be_redacted_is_dropped_not_stored(tmp_path: Path) -> None:
    database = Database(URL.create("sqlite+aiosqlite", database=str(tmp_path / "t.db")))
    await database.start()
    writer = ContentWriter(database, _Broken(), {"red": 1})
    await writer.start()

    writer.put(_capture("jane@example.com"))
    await writer.close()

    assert writer.dropped == 1
    assert await _stored(database) == 0
    await database.close()


async def test_a_full_queue_drops_new_captures_instead_of_growing(tmp_path: Path) -> None:
    database = Database(URL.create("sqlite+aiosqlite", database=str(tmp_path / "t.db")))
    writer = ContentWriter(database, _Broken(), {}, max_pending=2)

    for _ in range(5):
        writer.put(_capture())

    assert (writer.pending, writer.dropped) == (2, 3)
    await database.close()


class _Sink:
    def __init__(self) -> None:
        self.captures: list[Capture] = []

    def put(self, capture: Capture) -> None:
        self.captures.append(capture)


def _call(team: str | None, data_class: str | None = None) -> Call:
    request = ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    )
    principal = Principal(id="k", team="team_1", team_name=team, role="member", kind="key")
    record = Record(request_id="r1", model="m", operation=Operation.CHAT, principal=principal)
    return Call(request=request, model="m", targets=(), record=record, principal=principal,
                data_class=data_class)  # fmt: skip


async def _failing(call: Call) -> AsyncIterator[Chunk]:
    yield ChatChunk(choices=(ChoiceDelta(text="partial"),))
    raise UpstreamError("cut mid-answer")


async def test_a_failed_call_fails_as_it_would_and_its_partial_answer_is_kept() -> None:
    settings = GovernanceSettings.model_validate(
        {"capture": {"teams": {"red": CaptureTeam().model_dump()}}}
    )
    sink = _Sink()
    stage = CaptureStage(settings, sink)

    with pytest.raises(UpstreamError, match="cut mid-answer"):
        async for _ in stage(_call("red"), _failing):
            pass

    (capture,) = sink.captures
    assert capture.complete is False
    assert [p.text for p in capture.pieces()] == ["hi", "partial"]


@pytest.mark.parametrize(
    ("team", "data_class", "captured"),
    [("red", "internal", True), ("red", "confidential", False), ("blue", None, False),
     (None, None, False), ("red", None, True)],
)  # fmt: skip
def test_only_opted_in_teams_within_their_class_are_captured(
    team: str | None, data_class: str | None, *, captured: bool
) -> None:
    settings = GovernanceSettings.model_validate({"capture": {"teams": {"red": {}}}})

    rule = CaptureStage(settings, _Sink()).rule(_call(team, data_class))

    assert (rule is not None) is captured


class _Counting:
    def __init__(self) -> None:
        self.texts = 0

    def redact(self, texts: Sequence[str]) -> list[str]:
        self.texts += len(texts)
        return ["[redacted]" for _ in texts]


async def test_a_failed_insert_keeps_the_redacted_rows_and_retries(tmp_path: Path) -> None:
    # not migrated yet: every insert fails until the table exists
    database = Database(URL.create("sqlite+aiosqlite", database=str(tmp_path / "t.db")))
    redactor = _Counting()
    writer = ContentWriter(database, redactor, {"red": 1})
    for _ in range(3):
        writer.put(_capture("jane@example.com"))

    with pytest.raises(ServiceUnavailableError):
        await writer.flush()
    pending_while_down = writer.pending
    await database.start()
    await writer.flush()

    assert pending_while_down == 3
    assert writer.pending == 0
    assert await _stored(database) == 3
    assert redactor.texts == 3  # redacted once, not again on the retry
    await database.close()
