"""The Files and Batches APIs through the real gateway, lines answered by a loopback upstream."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from tests.conftest import gateway_settings
from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread

CHAT = "/v1/chat/completions"


def line(custom_id: str, content: str = "Hi", url: str = CHAT) -> bytes:
    body = {"model": "chat-default", "messages": [{"role": "user", "content": content}]}
    return orjson.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": body})


@pytest.fixture(scope="module")
def batch_gateway(
    fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayThread]:
    data_dir = tmp_path_factory.mktemp("data")
    server = GatewayThread(gateway_settings(fake_openai.base_url, data_dir=str(data_dir))).start()
    yield server
    server.stop()


@pytest.fixture
def client(batch_gateway: GatewayThread, upstream: FakeOpenAI) -> openai.OpenAI:
    return openai.OpenAI(base_url=batch_gateway.url + "/v1", api_key="unused", max_retries=0)


def submit(client: openai.OpenAI, content: bytes, endpoint: str = CHAT) -> str:
    uploaded = client.files.create(file=("input.jsonl", io.BytesIO(content)), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint=endpoint,  # type: ignore[arg-type]
        completion_window="24h",
    )
    return batch.id


def settled(client: openai.OpenAI, batch_id: str, seconds: float = 60) -> openai.types.Batch:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batch = client.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "cancelled", "expired"):
            return batch
        time.sleep(0.05)
    raise AssertionError(f"batch {batch_id} did not settle: {batch.status}")


def jsonl(client: openai.OpenAI, file_id: str | None) -> list[dict[str, object]]:
    assert file_id is not None
    return [orjson.loads(row) for row in client.files.content(file_id).content.splitlines()]


def test_runs_every_line_and_writes_output_and_error_files(client: openai.OpenAI) -> None:
    content = b"\n".join(
        [line("a"), line("b"), b"{not json", line("c", url="/v1/embeddings"), line("d"), b""]
    )

    batch = settled(client, submit(client, content))

    output = jsonl(client, batch.output_file_id)
    errors = jsonl(client, batch.error_file_id)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (5, 3)
    assert batch.request_counts.failed == 2
    assert [row["custom_id"] for row in output] == ["a", "b", "d"]
    response = output[0]["response"]
    assert isinstance(response, dict)
    assert response["status_code"] == 200
    assert response["body"]["choices"][0]["message"]["content"] == "Hello from the fake upstream!"
    assert {row["custom_id"]: row["error"]["code"] for row in errors} == {  # type: ignore[index]
        "line-3": "invalid_json",
        "c": "invalid_request",
    }


def test_upstream_errors_become_error_lines(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.always(status=400)

    batch = settled(client, submit(client, line("x")))

    (row,) = jsonl(client, batch.error_file_id)
    assert batch.output_file_id is None
    assert row["custom_id"] == "x"
    assert row["response"]["status_code"] == 400  # type: ignore[index]


def test_duplicate_custom_ids_fail_the_batch(client: openai.OpenAI) -> None:
    batch = settled(client, submit(client, b"\n".join([line("same"), line("same")])))

    assert batch.status == "failed"
    assert batch.errors is not None
    assert "unique" in (batch.errors.data or [])[0].message  # type: ignore[operator]


def test_cancel_mid_run_keeps_what_finished(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.always(delay=0.05)
    batch_id = submit(client, b"\n".join(line(f"r{i}") for i in range(200)))
    while len(upstream.calls) < 8:
        time.sleep(0.01)

    cancelling = client.batches.cancel(batch_id)
    batch = settled(client, batch_id)

    assert cancelling.status == "cancelling"
    assert batch.status == "cancelled"
    assert batch.request_counts is not None
    finished = batch.request_counts.completed
    assert 0 < finished < 200
    ids = [row["custom_id"] for row in jsonl(client, batch.output_file_id)]
    assert len(ids) == len(set(ids)) == finished


def test_lists_and_deletes_files(client: openai.OpenAI) -> None:
    uploaded = client.files.create(file=("x.jsonl", io.BytesIO(line("z"))), purpose="batch")

    listed = [f.id for f in client.files.list()]
    deleted = client.files.delete(uploaded.id)

    assert uploaded.id in listed
    assert deleted.deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/files/..%2F..%2Fbatches.sqlite3/content",
        "/v1/files/file-..%2F..%2Fetc%2Fpasswd",
        "/v1/files/%2Fetc%2Fpasswd/content",
        "/v1/files/batches.sqlite3/content",
        "/v1/batches/..%2Fbatch_x",
    ],
)
def test_ids_cannot_address_paths(batch_gateway: GatewayThread, path: str) -> None:
    response = httpx.get(batch_gateway.url + path)

    assert response.status_code == 404
    assert response.json()["error"]["type"] in ("not_found_error", "invalid_request_error")


def test_batch_needs_an_uploaded_batch_file(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.create(
            input_file_id="file-000000000000000000000000",
            endpoint=CHAT,
            completion_window="24h",
        )

    assert caught.value.body["param"] == "input_file_id"  # type: ignore[index]


def test_upload_needs_purpose_batch(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="purpose"):
        client.files.create(file=("x.jsonl", io.BytesIO(b"{}")), purpose="fine-tune")


def test_data_dir_holds_the_state(batch_gateway: GatewayThread, client: openai.OpenAI) -> None:
    data_dir = batch_gateway.settings.server.data_dir
    assert data_dir is not None

    settled(client, submit(client, line("kept")))

    assert (Path(data_dir) / "batches.sqlite3").is_file()
    assert any((Path(data_dir) / "files").glob("file-*.json"))


def test_request_counts_grow_while_the_batch_runs(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    upstream.always(delay=0.02)
    batch_id = submit(client, b"\n".join(line(f"p{i}") for i in range(100)))

    seen = []
    while (batch := client.batches.retrieve(batch_id)).status != "completed":
        assert batch.request_counts is not None
        seen.append(batch.request_counts.completed)
        time.sleep(0.02)

    assert any(0 < n < 100 for n in seen)
    assert seen == sorted(seen)


def test_embedding_batches_answer_with_vectors(client: openai.OpenAI) -> None:
    body = {"model": "embed-default", "input": ["a", "b"]}
    row = orjson.dumps({"custom_id": "e", "method": "POST", "url": "/v1/embeddings", "body": body})

    batch = settled(client, submit(client, row, endpoint="/v1/embeddings"))

    (output,) = jsonl(client, batch.output_file_id)
    data = output["response"]["body"]["data"]  # type: ignore[index]
    assert [item["index"] for item in data] == [0, 1]
    assert output["response"]["body"]["object"] == "list"  # type: ignore[index]
