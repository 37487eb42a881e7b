"""Output redaction on streams: a value split anywhere across chunks never leaks."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.guardrails.samples import SECRETS
from tests.guardrails.test_pii import PII
from tripoint.config.guardrails import DEFAULT_PII_ENTITIES
from tripoint.errors import ContentBlockedError
from tripoint.guardrails.finding import Detector, Finding
from tripoint.guardrails.guardrail import Guardrail
from tripoint.guardrails.output import OutputFilter, find_all
from tripoint.guardrails.pii import PiiDetector, load_analyzer
from tripoint.guardrails.redaction import PLACEHOLDER, Vault
from tripoint.guardrails.secrets import PROVIDER_PATTERNS, SecretDetector, detect_secrets_patterns
from tripoint.schema.chunks import ChatChunk, ChoiceDelta, Chunk, ToolCallDelta, Usage

HOLD = 256
USAGE = Usage(prompt_tokens=3, completion_tokens=9, total_tokens=12)


@pytest.fixture(scope="module")
def secrets() -> Guardrail:
    detector = SecretDetector(PROVIDER_PATTERNS + detect_secrets_patterns(), longest=HOLD)
    return Guardrail("secrets", detector, "redact", "placeholder")


@pytest.fixture(scope="module")
def pii() -> Guardrail:
    analyzer = load_analyzer(DEFAULT_PII_ENTITIES)
    return Guardrail(
        "pii", PiiDetector(analyzer, DEFAULT_PII_ENTITIES, 0.4, HOLD), "redact", "mask"
    )


async def _scan(
    detectors: Sequence[tuple[str, Detector]], texts: Sequence[str]
) -> list[list[Finding]]:
    return find_all(detectors, texts)


async def _upstream(pieces: Sequence[str], *, tool: bool = False) -> AsyncIterator[Chunk]:
    yield ChatChunk(choices=(ChoiceDelta(role="assistant", text=""),))
    for piece in pieces:
        if tool:
            yield ChatChunk(choices=(ChoiceDelta(tool_calls=(ToolCallDelta(0, arguments=piece),)),))
        else:
            yield ChatChunk(choices=(ChoiceDelta(text=piece),))
    yield ChatChunk(choices=(ChoiceDelta(finish_reason="stop"),))
    yield ChatChunk(usage=USAGE)


async def _stream(
    guardrails: list[Guardrail], pieces: Sequence[str], *, tool: bool = False
) -> list[ChatChunk]:
    flow = OutputFilter(guardrails, Vault(), _scan, hold=HOLD, max_held=16_384)
    return [c async for c in flow.filter(_upstream(pieces, tool=tool)) if isinstance(c, ChatChunk)]


def _text(chunks: list[ChatChunk], *, tool: bool = False) -> str:
    if tool:
        return "".join(t.arguments for c in chunks for d in c.choices for t in d.tool_calls)
    return "".join(d.text or "" for c in chunks for d in c.choices)


def _leaks(output: str, value: str) -> list[str]:
    visible = PLACEHOLDER.sub("", output)
    return [value[i : i + 4] for i in range(len(value) - 3) if value[i : i + 4] in visible]


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


SECRET_TEXTS = [around.format(value) for _, around, value in SECRETS]
PII_TEXTS = [around.format(value) for _, around, value in PII]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case=st.integers(0, len(SECRETS) - 1),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
    tool=st.booleans(),
)
async def test_no_secret_leaks_however_the_stream_is_split(
    secrets: Guardrail, case: int, cuts: list[int], tool: bool
) -> None:
    text = "Sure, here it is. " + SECRET_TEXTS[case] + " Anything else?"

    chunks = await _stream([secrets], _split(text, cuts), tool=tool)

    assert _leaks(_text(chunks, tool=tool), SECRETS[case][2]) == []


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=st.integers(0, len(PII) - 1), cuts=st.lists(st.integers(0, 10_000), max_size=8))
async def test_no_pii_leaks_however_the_stream_is_split(
    pii: Guardrail, case: int, cuts: list[int]
) -> None:
    text = "Here you go: " + PII_TEXTS[case] + ". Thanks!"

    chunks = await _stream([pii], _split(text, cuts))

    assert _leaks(_text(chunks), PII[case][2]) == []


@pytest.mark.parametrize("case", range(len(SECRETS)), ids=[k for k, _, _ in SECRETS])
async def test_every_single_boundary_gives_the_whole_text_redaction(
    secrets: Guardrail, case: int
) -> None:
    text = "Sure: " + SECRET_TEXTS[case] + " Done."
    whole = _text(await _stream([secrets], [text]))

    for at in range(1, len(text)):
        chunks = await _stream([secrets], [text[:at], text[at:]])

        assert _text(chunks) == whole, at
    assert _leaks(whole, SECRETS[case][2]) == []


async def test_value_split_inside_a_multibyte_neighbourhood_is_redacted(secrets: Guardrail) -> None:
    key = SECRETS[0][2]
    text = f"clé 🔑{key}🔑 ✓"
    pieces = [text[:5], text[5:20], text[20:]]

    output = _text(await _stream([secrets], pieces))

    assert output == "clé 🔑<OPENAI_KEY_1>🔑 ✓"


async def test_final_chunk_and_usage_arrive_after_the_held_text(secrets: Guardrail) -> None:
    chunks = await _stream([secrets], ["short ", "answer"])

    finish = [i for i, c in enumerate(chunks) if any(d.finish_reason for d in c.choices)]
    text_at = [i for i, c in enumerate(chunks) if any(d.text for d in c.choices)]
    assert _text(chunks) == "short answer"
    assert finish
    assert max(text_at) <= finish[0]
    assert chunks[-1].usage == USAGE


async def test_long_answers_are_released_while_streaming(secrets: Guardrail) -> None:
    words = [f"word{i} " for i in range(400)]

    chunks = await _stream([secrets], words)

    first_text = next(i for i, c in enumerate(chunks) if any(d.text for d in c.choices))
    assert first_text < len(chunks) // 2  # not all held back to the end
    assert _text(chunks) == "".join(words)


async def test_block_action_ends_with_content_filter_then_error() -> None:
    blocker = Guardrail("secrets", SecretDetector(PROVIDER_PATTERNS), "block")
    flow = OutputFilter([blocker], Vault(), _scan, hold=HOLD, max_held=16_384)
    seen: list[ChatChunk] = []

    async def consume() -> None:
        async for chunk in flow.filter(_upstream(["key ", SECRETS[0][2], " end"])):
            assert isinstance(chunk, ChatChunk)
            seen.append(chunk)

    with pytest.raises(ContentBlockedError, match="secrets"):
        await consume()

    assert seen[-1].choices[0].finish_reason == "content_filter"
    assert SECRETS[0][2][:8] not in _text(seen)
    assert flow.blocked_by == "secrets"


async def test_unterminated_private_key_is_blocked_not_streamed(secrets: Guardrail) -> None:
    flow = OutputFilter([secrets], Vault(), _scan, hold=HOLD, max_held=2_000)
    pieces = ["-----BEGIN PRIVATE KEY-----\n"] + ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"] * 100

    with pytest.raises(ContentBlockedError):
        [c async for c in flow.filter(_upstream(pieces))]


def test_placeholder_pattern_matches_what_the_vault_writes() -> None:
    assert re.fullmatch(
        PLACEHOLDER, Vault().placeholder("EMAIL_ADDRESS", "a@b.co", reversible=True)
    )
