"""The official `openai` SDK, through the real gateway, gets the same shape of answer whichever
provider serves the model: each conformance case's backend behind its replay upstream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from pydantic import TypeAdapter

from tests.fakes.replay_upstream import ReplayServer, Reply
from tests.providers.answer_shape import chunk_kind, shape
from tests.providers.conformance.case import ProviderCase
from tests.providers.conformance.cases import all_cases
from tests.providers.conformance.scenarios import WEATHER_TOOL
from tests.servers import GatewayThread
from tripoint.config.schema import Backend, Settings
from tripoint.pipeline.call import Operation
from tripoint.providers.registry import build_provider
from tripoint.routing.router import capabilities

CASES = all_cases()
REFERENCE = next(c for c in CASES if c.name == "openai")  # the shape every other must match
TIMEOUTS = {"connect": 2, "first_byte": 5, "idle": 5, "total": 30}
HELLO = [{"role": "user", "content": "Hello!"}]
WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]


def target(name: str) -> dict[str, str]:
    case = next(c for c in CASES if c.name == name)
    return {"backend": case.name, "model": case.model}


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, ReplayServer]]:
    servers = {case.name: ReplayServer().start() for case in CASES}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def gateway(upstreams: dict[str, ReplayServer]) -> Iterator[GatewayThread]:
    with pytest.MonkeyPatch.context() as env:
        for case in CASES:
            for name, value in case.env.items():
                env.setenv(name, value)
        settings = Settings.model_validate(
            {
                "backends": {
                    case.name: {**case.backend(upstreams[case.name].url), "timeouts": TIMEOUTS}
                    for case in CASES
                },
                "models": {
                    **{
                        f"via-{c.name}": {"targets": [{"backend": c.name, "model": c.model}]}
                        for c in CASES
                    },
                    "fallback": {"targets": [target("anthropic"), target("cohere")]},
                },
            }
        )
    server = GatewayThread(settings).start()
    yield server
    server.stop()


@pytest.fixture
def client(gateway: GatewayThread, upstreams: dict[str, ReplayServer]) -> openai.OpenAI:
    for case in CASES:
        upstreams[case.name].reset()
        if case.prepare is not None:
            case.prepare(upstreams[case.name])
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def case(request: pytest.FixtureRequest) -> ProviderCase:
    chosen: ProviderCase = request.param
    return chosen


def ask(
    client: openai.OpenAI, upstreams: dict[str, ReplayServer], case: ProviderCase, **call: Any
) -> Any:
    stream = call.get("stream", False)
    fixture = "tool_call" if "tools" in call else "text"
    upstreams[case.name].queue(
        case.reply(case.stream_name(fixture) if stream else f"{fixture}.json")
    )
    answer = client.chat.completions.create(model=f"via-{case.name}", **call)
    return list(answer) if stream else answer


def test_plain_answer_has_the_openai_shape(
    client: openai.OpenAI, upstreams: dict[str, ReplayServer], case: ProviderCase
) -> None:
    reference = ask(client, upstreams, REFERENCE, messages=HELLO)

    answer = ask(client, upstreams, case, messages=HELLO)

    assert shape(answer) == shape(reference)
    assert answer.object == "chat.completion"
    assert answer.model == f"via-{case.name}"
    assert answer.choices[0].message.content == case.expected.text
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    usage = (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens)
    assert usage == case.expected.usage


def test_tool_call_answer_has_the_openai_shape(
    client: openai.OpenAI, upstreams: dict[str, ReplayServer], case: ProviderCase
) -> None:
    if not case.tools:
        pytest.skip(f"{case.name} has no tools (the conformance suite checks the refusal)")
    reference = ask(client, upstreams, REFERENCE, messages=WEATHER, tools=[WEATHER_TOOL])

    answer = ask(client, upstreams, case, messages=WEATHER, tools=[WEATHER_TOOL])

    # a backend may say something before it calls a tool: content is text or null
    without_content = [shape(a.choices[0].message) for a in (answer, reference)]
    for message in without_content:
        message.pop("content", None)
    assert without_content[0] == without_content[1]
    assert shape(answer.usage) == shape(reference.usage)
    [call] = answer.choices[0].message.tool_calls
    assert case.tool_call_id_matches(call.id)
    assert call.type == "function"
    assert call.function.name == case.expected.tool_name
    assert json.loads(call.function.arguments) == case.expected.tool_arguments
    assert answer.choices[0].finish_reason == "tool_calls"


def test_streamed_answer_has_the_openai_chunk_shapes(
    client: openai.OpenAI, upstreams: dict[str, ReplayServer], case: ProviderCase
) -> None:
    options: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}
    reference = ask(client, upstreams, REFERENCE, messages=HELLO, **options)

    chunks = ask(client, upstreams, case, messages=HELLO, **options)

    assert {chunk_kind(c) for c in chunks} == {chunk_kind(c) for c in reference}
    assert {json.dumps(shape(c)) for c in chunks} == {json.dumps(shape(c)) for c in reference}
    assert len({c.id for c in chunks}) == 1, "one id for the whole stream"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == case.expected.text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert not chunks[-1].choices
    assert chunks[-1].usage.total_tokens == case.expected.stream_usage[2]


def test_streamed_tool_call_reassembles_as_openai_does(
    client: openai.OpenAI, upstreams: dict[str, ReplayServer], case: ProviderCase
) -> None:
    if not case.tools:
        pytest.skip(f"{case.name} has no tools (the conformance suite checks the refusal)")
    chunks = ask(client, upstreams, case, messages=WEATHER, tools=[WEATHER_TOOL], stream=True)

    deltas = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or ()]
    first, rest = deltas[0], deltas[1:]
    assert case.tool_call_id_matches(first.id)
    assert first.type == "function"
    assert first.function.name == case.expected.tool_name
    assert all(d.id is None and d.function.name is None for d in rest), "identity comes once"
    assert {d.index for d in deltas} == {0}
    arguments = "".join(d.function.arguments or "" for d in deltas)
    assert json.loads(arguments) == case.expected.tool_arguments
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_upstream_garbage_is_a_clean_502(
    client: openai.OpenAI, upstreams: dict[str, ReplayServer], case: ProviderCase
) -> None:
    upstreams[case.name].queue(Reply(b"<html>Bad gateway</html>", content_type="text/html"))

    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=f"via-{case.name}", messages=HELLO)  # type: ignore[arg-type]

    assert caught.value.status_code == 502
    assert caught.value.body["type"] == "upstream_error"  # type: ignore[index]


def test_stream_cut_mid_frame_reaches_the_sdk_as_an_error(
    client: openai.OpenAI, upstreams: dict[str, ReplayServer], case: ProviderCase
) -> None:
    frames = case.frames(case.stream_fixture("text"))
    cut = b"".join(frames[:3]) + frames[3][: len(frames[3]) // 2]
    upstreams[case.name].queue(Reply(cut, content_type=case.stream_content_type, reset=True))

    stream = client.chat.completions.create(
        model=f"via-{case.name}",
        messages=HELLO,  # type: ignore[arg-type]
        stream=True,
    )
    with pytest.raises(openai.APIError):
        list(stream)


def test_upstream_rate_limit_reaches_the_sdk_with_retry_after(
    client: openai.OpenAI, upstreams: dict[str, ReplayServer], case: ProviderCase
) -> None:
    upstreams[case.name].queue(
        case.reply("error_429.json", status=429, headers={"Retry-After": "7"})
    )

    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=f"via-{case.name}", messages=HELLO)  # type: ignore[arg-type]

    assert caught.value.response.headers["retry-after"] == "7"


def test_request_a_backend_cannot_serve_is_a_400_naming_the_field(
    client: openai.OpenAI, upstreams: dict[str, ReplayServer]
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="via-anthropic", messages=HELLO, n=2)  # type: ignore[arg-type]

    assert caught.value.body["param"] == "n"  # type: ignore[index]
    assert upstreams["anthropic"].seen == [], "nothing was sent upstream"


def test_garbage_from_one_provider_falls_back_to_the_next(
    client: openai.OpenAI, upstreams: dict[str, ReplayServer]
) -> None:
    upstreams["anthropic"].queue(
        Reply(b"<html>Service Unavailable</html>", content_type="text/html")
    )
    upstreams["cohere"].queue(next(c for c in CASES if c.name == "cohere").reply("text.json"))

    raw = client.chat.completions.with_raw_response.create(model="fallback", messages=HELLO)  # type: ignore[arg-type]

    assert raw.headers["x-tripoint-backend"] == "cohere"
    assert raw.parse().choices[0].message.content == "Hello! How can I help you today?"
    assert len(upstreams["anthropic"].seen) == 1


def test_request_rejected_by_one_provider_is_not_retried_on_the_next(
    client: openai.OpenAI, upstreams: dict[str, ReplayServer]
) -> None:
    anthropic = next(c for c in CASES if c.name == "anthropic")
    upstreams["anthropic"].queue(anthropic.reply("error_400.json", status=400))

    with pytest.raises(openai.BadRequestError, match="maximum allowed number of output tokens"):
        client.chat.completions.create(model="fallback", messages=HELLO)  # type: ignore[arg-type]

    assert upstreams["cohere"].seen == []


def _chat_only(case: ProviderCase) -> bool:
    """Whether the backend type has no text-completion API of its own."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in case.env.items():
            env.setenv(name, value)
        config = TypeAdapter(Backend).validate_python(case.backend("http://127.0.0.1:9"))
    return Operation.COMPLETIONS not in capabilities(build_provider(case.name, config))


CHAT_ONLY = [c for c in CASES if _chat_only(c)]


@pytest.mark.parametrize("bridged", CHAT_ONLY, ids=[c.name for c in CHAT_ONLY])
def test_text_completions_reach_a_chat_only_backend_through_its_chat_api(
    client: openai.OpenAI, upstreams: dict[str, ReplayServer], bridged: ProviderCase
) -> None:
    upstreams[bridged.name].queue(bridged.reply("text.json"))

    answer = client.completions.create(model=f"via-{bridged.name}", prompt="Hello!")

    assert answer.object == "text_completion"
    assert answer.choices[0].text == bridged.expected.text
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert answer.usage.total_tokens == bridged.expected.usage[2]
    # the prompt went as the one user message, exactly as a chat "Hello!" goes
    assert json.loads(upstreams[bridged.name].last.body) == bridged.request_fixture("plain")


@pytest.mark.parametrize("bridged", CHAT_ONLY, ids=[c.name for c in CHAT_ONLY])
def test_streamed_text_completions_from_a_chat_only_backend(
    client: openai.OpenAI, upstreams: dict[str, ReplayServer], bridged: ProviderCase
) -> None:
    upstreams[bridged.name].queue(bridged.reply(bridged.stream_name("text")))

    chunks = list(
        client.completions.create(
            model=f"via-{bridged.name}",
            prompt=["Hello!"],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert all(c.object == "text_completion" for c in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == bridged.expected.text
    assert all(c.choices[0].text or c.choices[0].finish_reason for c in chunks if c.choices)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == bridged.expected.stream_usage[2]


@pytest.mark.parametrize(
    "options",
    [{"prompt": [1, 2, 3]}, {"prompt": ["one", "two"]}, {"prompt": "Hi", "echo": True}],
    ids=["token-ids", "two-prompts", "echo"],
)
def test_what_chat_cannot_express_is_refused_before_anything_is_sent(
    client: openai.OpenAI, upstreams: dict[str, ReplayServer], options: dict[str, Any]
) -> None:
    bridged = CHAT_ONLY[0]

    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=f"via-{bridged.name}", **options)

    assert "chat API" in caught.value.message
    assert upstreams[bridged.name].seen == []
