"""The guardrails stage on its own: records, fail-closed behaviour, limits, canaries."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from tests.guardrails.samples import run
from tripoint.config import parse_settings
from tripoint.config.guardrails import GuardrailSettings
from tripoint.errors import (
    ContentBlockedError,
    RequestTooLargeError,
    ServiceUnavailableError,
)
from tripoint.guardrails.canary import CanaryDetector
from tripoint.guardrails.engine import GuardrailEngine
from tripoint.guardrails.finding import Finding
from tripoint.guardrails.guardrail import Guardrail
from tripoint.guardrails.secrets import PROVIDER_PATTERNS, SecretDetector
from tripoint.guardrails.stage import GuardrailStage
from tripoint.pipeline.call import Call, Operation, Principal, Record
from tripoint.pipeline.stage import ChunkStream
from tripoint.schema.chunks import ChatChunk, ChoiceDelta
from tripoint.schema.requests import ChatRequest

KEY = "ghp_" + run(36)


class Exploding:
    name = "exploding"
    longest = 10

    def find(self, text: str) -> list[Finding]:
        raise RuntimeError("model crashed")


class Slow:
    name = "slow"
    longest = 10

    def find(self, text: str) -> list[Finding]:
        time.sleep(0.5)
        return []


def _settings(yaml: str) -> GuardrailSettings:
    return parse_settings(f"guardrails:\n{yaml}").guardrails


CONFIG = """
  max_scan_chars: 2000
  checks:
    secrets: {type: secrets, action: redact}
    secrets-log: {type: secrets, action: log}
    canary: {type: canary}
    broken: {type: secrets, timeout: 0.2}
    broken-open: {type: secrets, on_error: allow, timeout: 0.2}
  apply:
    default: [secrets]
    models: {shadow: [secrets-log], canary: [canary], broken: [broken], lenient: [broken-open]}
    teams: {finance: [canary]}
"""


def _build(settings: GuardrailSettings) -> dict[str, Guardrail]:
    secrets = SecretDetector(PROVIDER_PATTERNS)
    return {
        "secrets": Guardrail("secrets", secrets, "redact"),
        "secrets-log": Guardrail("secrets-log", secrets, "log"),
        "canary": Guardrail("canary", CanaryDetector(""), "block", "", redacts=False),
        "broken": Guardrail("broken", Exploding(), "block", timeout=0.2),
        "broken-open": Guardrail(
            "broken-open", Exploding(), "block", fail_closed=False, timeout=0.2
        ),
    }


@pytest.fixture
async def stage() -> AsyncIterator[GuardrailStage]:
    settings = _settings(CONFIG)
    engine = GuardrailEngine(settings, build=_build)
    await engine.start()
    yield GuardrailStage(engine, settings)
    await engine.close()


def _call(model: str, *messages: tuple[str, str], team: str | None = None) -> Call:
    request = ChatRequest.model_validate(
        {"model": model, "messages": [{"role": r, "content": c} for r, c in messages]}
    )
    record = Record(request_id="r1", model=model, operation=Operation.CHAT)
    return Call(request, model, (), record, principal=Principal("p", team=team))


def echo(*, suffix: str = "") -> object:
    """A terminal that answers with everything the request said (and `suffix`)."""

    async def terminal(call: Call) -> ChunkStream:
        assert isinstance(call.request, ChatRequest)
        said = " | ".join(m.text() for m in call.request.messages) + suffix
        yield ChatChunk(choices=(ChoiceDelta(role="assistant", text=said, finish_reason="stop"),))

    return terminal


async def _answer(stage: GuardrailStage, call: Call, terminal: object) -> str:
    chunks = [c async for c in stage(call, terminal)]  # type: ignore[arg-type]
    return "".join(d.text or "" for c in chunks if isinstance(c, ChatChunk) for d in c.choices)


async def test_records_types_and_counts_never_the_text(stage: GuardrailStage) -> None:
    call = _call("m", ("user", f"a {KEY} b {KEY}"))

    answer = await _answer(stage, call, echo(suffix=f" and {KEY}"))

    assert answer == "a <GITHUB_TOKEN_1> b <GITHUB_TOKEN_1> and <GITHUB_TOKEN_1>"
    events = [
        (e.guardrail, e.direction, e.outcome, dict(e.findings)) for e in call.record.guardrails
    ]
    assert events == [
        ("secrets", "input", "redact", {"github_token": 2}),
        ("secrets", "output", "redact", {"github_token": 1}),  # the others were placeholders
    ]
    assert KEY not in repr(call.record)


async def test_shadow_mode_records_what_it_would_have_done(stage: GuardrailStage) -> None:
    call = _call("shadow", ("user", f"token {KEY}"))

    answer = await _answer(stage, call, echo())

    assert answer == f"token {KEY}"
    assert [(e.outcome, e.would) for e in call.record.guardrails] == [
        ("pass", "redact"),
        ("pass", "redact"),
    ]


async def test_a_failing_check_blocks_the_request(stage: GuardrailStage) -> None:
    call = _call("broken", ("user", "hello"))

    with pytest.raises(ServiceUnavailableError, match="broken"):
        await _answer(stage, call, echo())

    assert [(e.guardrail, e.outcome) for e in call.record.guardrails] == [("broken", "error")]


async def test_a_failing_check_configured_to_allow_lets_the_request_through(
    stage: GuardrailStage,
) -> None:
    call = _call("lenient", ("user", "hello"))

    assert await _answer(stage, call, echo()) == "hello"
    assert {e.outcome for e in call.record.guardrails} == {"error"}


async def test_a_check_that_times_out_blocks() -> None:
    settings = _settings(CONFIG)
    engine = GuardrailEngine(
        settings,
        build=lambda s: {**_build(s), "broken": Guardrail("broken", Slow(), "block", timeout=0.05)},
    )
    await engine.start()
    try:
        with pytest.raises(ServiceUnavailableError):
            await _answer(GuardrailStage(engine, settings), _call("broken", ("user", "hi")), echo())
    finally:
        await engine.close()


async def test_text_over_the_scan_limit_is_rejected_not_passed(stage: GuardrailStage) -> None:
    with pytest.raises(RequestTooLargeError):
        await _answer(stage, _call("m", ("user", "x" * 2001)), echo())


async def test_canary_in_the_answer_blocks_a_system_prompt_leak(stage: GuardrailStage) -> None:
    call = _call("canary", ("system", "You are a helpful bank assistant."), ("user", "hi"))

    with pytest.raises(ContentBlockedError, match="canary"):
        await _answer(stage, call, echo())

    assert [(e.guardrail, e.direction, e.outcome) for e in call.record.guardrails] == [
        ("canary", "output", "block")
    ]


async def test_canary_stays_quiet_when_the_prompt_does_not_leak(stage: GuardrailStage) -> None:
    async def polite(call: Call) -> ChunkStream:
        yield ChatChunk(choices=(ChoiceDelta(text="How can I help?", finish_reason="stop"),))

    call = _call("canary", ("system", "You are a helpful bank assistant."), ("user", "hi"))

    assert await _answer(stage, call, polite) == "How can I help?"


async def test_team_checks_are_added_to_the_models(stage: GuardrailStage) -> None:
    call = _call("m", ("system", "secret rules"), ("user", f"token {KEY}"), team="finance")

    with pytest.raises(ContentBlockedError):
        await _answer(stage, call, echo())

    assert [e.guardrail for e in call.record.guardrails] == ["secrets", "secrets", "canary"]


def test_config_rejects_unknown_check_names() -> None:
    with pytest.raises(Exception, match="unknown check 'nope'"):
        _settings("  checks: {}\n  apply: {default: [nope]}\n")


def test_config_rejects_redacting_an_injection() -> None:
    with pytest.raises(Exception, match="action"):
        _settings("  checks: {i: {type: injection, action: redact}}\n")
