"""A model configured to delegate hands whole batches to OpenAI's native Batch API; status,
counts and results come back as this gateway's own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from tests.batch.test_workers import runner_of
from tests.fakes.openai_batches import FakeOpenAIBatches
from tests.fakes.openai_upstream import FakeOpenAI
from tripoint.batch.records import BatchJob, StoredFile, new_batch_id, new_file_id, now
from tripoint.batch.runner import BatchRunner
from tripoint.config import parse_settings
from tripoint.errors import ConfigError
from tripoint.gateway.assembly import assemble


@pytest.fixture
def native() -> Iterator[FakeOpenAIBatches]:
    server = FakeOpenAIBatches().start()
    yield server
    server.stop()


def runner(tmp_path: Path, native: FakeOpenAIBatches, upstream: FakeOpenAI) -> BatchRunner:
    settings = parse_settings(
        f"""
server: {{data_dir: {tmp_path}}}
batch: {{delegate_poll: 0.001}}
backends:
  openai: {{type: openai, base_url: "{native.base_url}", api_key: env:TRIPOINT_TEST_KEY}}
  other: {{type: openai, base_url: "{upstream.base_url}"}}
models:
  cheap-batch: {{targets: [{{backend: openai, model: gpt-4o-mini}}], batch: delegate}}
  chat-default: {{targets: [{{backend: other, model: m}}]}}
"""
    )
    return runner_of(assemble(settings))


async def submit(runner: BatchRunner, bodies: list[dict[str, object]]) -> BatchJob:
    content = b"\n".join(
        orjson.dumps({"custom_id": f"c{i}", "url": "/v1/chat/completions", "body": body})
        for i, body in enumerate(bodies)
    )
    upload = StoredFile(new_file_id(), "team", "batch", "in.jsonl", len(content))
    await runner.files.put(upload, content)
    job = BatchJob(new_batch_id(), "team", "/v1/chat/completions", upload.id)
    await runner.batches.create(job)
    return job


async def until_final(runner: BatchRunner, job: BatchJob) -> BatchJob:
    for _ in range(20):
        job = await runner.process(job)
        if job.status in ("completed", "failed", "cancelled", "expired"):
            return job
    raise AssertionError(f"the delegated batch is still {job.status}")


def chat(model: str, **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": "Hi"}], **extra}


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIPOINT_TEST_KEY", "sk-test-key")


async def test_a_delegated_batch_comes_back_with_one_line_per_custom_id(
    tmp_path: Path, native: FakeOpenAIBatches, upstream: FakeOpenAI
) -> None:
    batches = runner(tmp_path, native, upstream)
    bodies = [chat("cheap-batch") for _ in range(3)] + [chat("cheap-batch", fail=True)]
    job = await submit(batches, bodies)

    done = await until_final(batches, job)
    output = await batches.files.content(done.output_file_id or "", "team") or b""
    errors = await batches.files.content(done.error_file_id or "", "team") or b""

    [remote] = native.batches.values()
    sent = [line["body"]["model"] for line in remote.lines]
    answered = [orjson.loads(row) for row in output.splitlines()]
    assert sent == ["gpt-4o-mini"] * 4  # the backend's name for the model
    assert sorted(a["custom_id"] for a in answered) == ["c0", "c1", "c2"]
    assert {a["response"]["body"]["model"] for a in answered} == {"cheap-batch"}
    assert [orjson.loads(row)["custom_id"] for row in errors.splitlines()] == ["c3"]
    assert (done.status, done.counts.total, done.counts.completed, done.counts.failed) == (
        "completed",
        4,
        3,
        1,
    )
    assert remote.body["metadata"] == {"tripoint_batch": job.id}
    assert {auth for *_, auth in native.seen} == {"Bearer sk-test-key"}
    assert upstream.calls == []  # no line went through the gateway's own upstreams


async def test_a_remote_failure_is_the_batchs_failure_with_its_reason(
    tmp_path: Path, native: FakeOpenAIBatches, upstream: FakeOpenAI
) -> None:
    native.fail_with = "the model gpt-4o-mini is not allowed in batches"
    batches = runner(tmp_path, native, upstream)
    job = await submit(batches, [chat("cheap-batch")])

    done = await until_final(batches, job)

    assert done.status == "failed"
    assert done.errors == ("the model gpt-4o-mini is not allowed in batches",)


async def test_a_cancel_is_passed_on_to_the_remote_batch(
    tmp_path: Path, native: FakeOpenAIBatches, upstream: FakeOpenAI
) -> None:
    batches = runner(tmp_path, native, upstream)
    job = await batches.process(await submit(batches, [chat("cheap-batch")] * 1))
    assert job.status == "in_progress"
    cancelling = replace(job, status="cancelling", times={**job.times, "cancelling": now()})
    assert await batches.batches.save(cancelling, expect="in_progress")

    done = await until_final(batches, cancelling)

    [remote] = native.batches.values()
    assert ("POST", f"/v1/batches/{remote.body['id']}/cancel") in [s[:2] for s in native.seen]
    assert done.status == "cancelled"
    assert done.output_file_id is None


async def test_a_batch_of_several_models_runs_through_the_gateway(
    tmp_path: Path, native: FakeOpenAIBatches, upstream: FakeOpenAI
) -> None:
    batches = runner(tmp_path, native, upstream)
    job = await submit(batches, [chat("cheap-batch"), chat("chat-default")])

    done = await until_final(batches, job)

    assert native.batches == {}  # nothing delegated: the lines name two models
    assert done.remote == {}
    assert done.status == "completed"
    assert done.counts.total == done.counts.completed + done.counts.failed == 2  # each ran here


def test_delegating_needs_an_openai_backend(tmp_path: Path) -> None:
    settings = parse_settings(
        f"""
server: {{data_dir: {tmp_path}}}
backends: {{claude: {{type: anthropic, api_key: env:TRIPOINT_TEST_KEY}}}}
models: {{m: {{targets: [{{backend: claude, model: x}}], batch: delegate}}}}
"""
    )

    with pytest.raises(ConfigError, match=r"models\.m\.batch: delegate needs an `openai` backend"):
        assemble(settings)
