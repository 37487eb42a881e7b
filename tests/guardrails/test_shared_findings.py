"""PII and secrets are scanned once per call: the classify stage's findings ride on the call
and the guardrails stage judges from them, unless a text changed in between."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from tests.guardrails.samples import run
from tripoint.config import parse_settings
from tripoint.config.guardrails import DEFAULT_PII_ENTITIES
from tripoint.errors import ContentBlockedError
from tripoint.governance.stages import Classify
from tripoint.guardrails.engine import GuardrailEngine
from tripoint.guardrails.finding import Finding
from tripoint.guardrails.guardrail import Guardrail
from tripoint.guardrails.pii import PiiDetector, load_analyzer
from tripoint.guardrails.scanner import GuardrailFindings
from tripoint.guardrails.secrets import PROVIDER_PATTERNS, SecretDetector
from tripoint.guardrails.stage import GuardrailStage
from tripoint.pipeline.call import Call, Operation, Record
from tripoint.pipeline.stage import ChunkStream, Next, Stage, compose
from tripoint.schema.chunks import ChatChunk, ChoiceDelta
from tripoint.schema.requests import ChatRequest

KEY = "ghp_" + run(36)
INPUT = frozenset({"input"})  # the answer is not what these tests count
MAIL = "jane.doe@example.org"
SETTINGS = parse_settings("""
guardrails:
  checks:
    pii: {type: pii, action: redact, "on": [input]}
    secrets: {type: secrets, action: redact, "on": [input]}
  apply: {default: [secrets, pii]}
governance:
  findings: {PII: confidential, SECRET: restricted}
""")


class Tally:
    """Texts each detector was asked about, from the worker threads that ask."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.texts: dict[str, list[str]] = {}

    def add(self, detector: str, text: str) -> None:
        with self._lock:
            self.texts.setdefault(detector, []).append(text)


class CountedSecrets(SecretDetector):
    def __init__(self, tally: Tally) -> None:
        super().__init__(PROVIDER_PATTERNS)
        self._tally = tally

    def find(self, text: str) -> list[Finding]:
        self._tally.add("secrets", text)
        return super().find(text)


class CountedPii(PiiDetector):
    def __init__(self, tally: Tally, analyzer: object) -> None:
        super().__init__(analyzer, DEFAULT_PII_ENTITIES, 0.4, 256)  # type: ignore[arg-type]
        self._tally = tally

    def find(self, text: str) -> list[Finding]:
        self._tally.add("pii", text)
        return super().find(text)


@dataclass
class Rig:
    tally: Tally
    engine: GuardrailEngine
    sent: list[Call] = field(default_factory=list)

    async def upstream(self, call: Call) -> ChunkStream:
        self.sent.append(call)
        yield ChatChunk(choices=(ChoiceDelta(text="ok", finish_reason="stop"),))

    def handler(self, *stages: Stage) -> Next:
        return compose(stages, self.upstream)

    def classify(self, *checks: str) -> Classify:
        return Classify(SETTINGS.governance, GuardrailFindings(self.engine, list(checks)))

    def guardrails(self) -> GuardrailStage:
        return GuardrailStage(self.engine, SETTINGS.guardrails)

    def forwarded(self) -> list[str]:
        request = self.sent[-1].request
        assert isinstance(request, ChatRequest)
        return [m.text() for m in request.messages]


@pytest.fixture(scope="module")
def analyzer() -> object:
    return load_analyzer(DEFAULT_PII_ENTITIES)


@pytest.fixture
async def rig(analyzer: object) -> AsyncIterator[Rig]:
    tally = Tally()

    def build(_: object) -> dict[str, Guardrail]:
        return {
            "secrets": Guardrail("secrets", CountedSecrets(tally), "redact", directions=INPUT),
            "pii": Guardrail("pii", CountedPii(tally, analyzer), "redact", directions=INPUT),
        }

    engine = GuardrailEngine(SETTINGS.guardrails, build=build)
    await engine.start()
    yield Rig(tally, engine)
    await engine.close()


def _call(*contents: str) -> Call:
    request = ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": c} for c in contents]}
    )
    return Call(request, "m", (), Record(request_id="r", model="m", operation=Operation.CHAT))


async def _send(handler: Next, call: Call) -> None:
    async for _ in handler(call):
        pass


async def test_each_detector_scans_each_text_once_per_call(rig: Rig) -> None:
    texts = ("What is a tide?", f"Mail {MAIL} today", "Thanks!")

    await _send(rig.handler(rig.classify("secrets", "pii"), rig.guardrails()), _call(*texts))

    assert sorted(rig.tally.texts["secrets"]) == sorted(texts)
    assert sorted(rig.tally.texts["pii"]) == sorted(texts)
    assert rig.sent[0].data_class == "confidential"
    assert rig.forwarded() == ["What is a tide?", "Mail <EMAIL_1> today", "Thanks!"]


async def test_redaction_from_shared_findings_equals_scanning_again(rig: Rig) -> None:
    text = f"Mail {MAIL} the key {KEY}, or call +1 415-555-0132."
    await _send(rig.handler(rig.guardrails()), _call(text))
    scanned_in_stage = rig.forwarded()

    await _send(rig.handler(rig.classify("secrets", "pii"), rig.guardrails()), _call(text))

    assert rig.forwarded() == scanned_in_stage
    assert "<EMAIL_1>" in scanned_in_stage[0]
    assert "<GITHUB_TOKEN_1>" in scanned_in_stage[0]


async def test_a_text_changed_after_classification_is_scanned_again(rig: Rig) -> None:
    async def swap_text(call: Call, call_next: Next) -> ChunkStream:
        assert isinstance(call.request, ChatRequest)
        message = call.request.messages[0].model_copy(update={"content": f"key {KEY}"})
        changed = call.request.model_copy(update={"messages": [message]})
        async for chunk in call_next(dataclasses.replace(call, request=changed)):
            yield chunk

    handler = rig.handler(rig.classify("pii"), swap_text, rig.guardrails())

    await _send(handler, _call("What is a tide?"))

    assert rig.tally.texts["secrets"] == [f"key {KEY}"]  # classification did not run secrets
    assert rig.tally.texts["pii"] == ["What is a tide?", "key <GITHUB_TOKEN_1>"]
    assert rig.forwarded() == ["key <GITHUB_TOKEN_1>"]


async def test_a_text_rewritten_by_an_earlier_check_is_scanned_again_by_the_next(
    rig: Rig,
) -> None:
    text = f"Mail {MAIL} the key {KEY}"

    await _send(rig.handler(rig.classify("secrets", "pii"), rig.guardrails()), _call(text))

    # secrets (first in `apply`) judges from the shared findings and rewrites the text; pii's
    # findings were about the text before that, so it looks again at the new one.
    assert rig.tally.texts["secrets"] == [text]
    assert rig.tally.texts["pii"] == [text, f"Mail {MAIL} the key <GITHUB_TOKEN_1>"]
    assert rig.forwarded() == ["Mail <EMAIL_1> the key <GITHUB_TOKEN_1>"]


async def test_a_block_from_shared_findings_still_blocks(analyzer: object) -> None:
    settings = parse_settings("""
guardrails:
  checks: {secrets: {type: secrets, action: block}}
  apply: {default: [secrets]}
governance:
  findings: {SECRET: restricted}
""")
    tally = Tally()
    engine = GuardrailEngine(
        settings.guardrails,
        build=lambda _: {
            "secrets": Guardrail("secrets", CountedSecrets(tally), "block", directions=INPUT)
        },
    )
    await engine.start()
    rig = Rig(tally, engine)
    handler = rig.handler(
        Classify(settings.governance, GuardrailFindings(engine, ["secrets"])),
        GuardrailStage(engine, settings.guardrails),
    )

    try:
        with pytest.raises(ContentBlockedError):
            await _send(handler, _call(f"my key is {KEY}"))
    finally:
        await engine.close()

    assert tally.texts["secrets"] == [f"my key is {KEY}"]
    assert rig.sent == []
