"""Batch lane throughput: lines/s through the real runner (pipeline, SQLite results, files).

Loopback upstream answering after 50 ms: lines/s at several concurrencies against the ideal
(concurrency / latency). Local engine (stories260K, one instance): tokens/s of a batch against
llama-cpp-python generating the same lines directly, one after another.

    .venv/bin/python benchmarks/batch_bench.py [--lines N] [--gguf PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import llama_cpp
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.openai_upstream import FakeOpenAI  # noqa: E402
from tripoint.batch.records import BatchJob, StoredFile, new_batch_id, new_file_id  # noqa: E402
from tripoint.batch.runner import BatchRunner  # noqa: E402
from tripoint.config import parse_settings  # noqa: E402
from tripoint.gateway.assembly import assemble  # noqa: E402

ENDPOINT = "/v1/completions"


def batch_file(count: int, max_tokens: int) -> bytes:
    body = {"model": "m", "prompt": "Once upon a time", "max_tokens": max_tokens, "temperature": 0}
    return b"\n".join(
        orjson.dumps({"custom_id": f"c{i}", "method": "POST", "url": ENDPOINT, "body": body})
        for i in range(count)
    )


async def run_batch(backend_yaml: str, content: bytes, concurrency: int) -> tuple[float, int]:
    """(seconds, completion tokens) for one batch through a fresh gateway's runner."""
    with tempfile.TemporaryDirectory() as data:
        settings = parse_settings(f"""
server: {{data_dir: {data}}}
batch: {{concurrency: {concurrency}}}
backends: {{b: {backend_yaml}}}
models: {{m: {{targets: [{{backend: b, model: x}}]}}}}
""")  # fmt: skip
        gateway = assemble(settings)
        runner = gateway.component("batches")
        assert isinstance(runner, BatchRunner)
        await gateway.start()
        while not all((await gateway.readiness()).values()):
            await asyncio.sleep(0.05)
        owner = "bench"
        upload = StoredFile(new_file_id(), owner, "batch", "in.jsonl", len(content))
        await runner.files.put(upload, content)
        job = BatchJob(new_batch_id(), owner, ENDPOINT, upload.id)
        await runner.batches.create(job)
        start = time.perf_counter()
        done = await runner.process(job)
        seconds = time.perf_counter() - start
        output = await runner.files.content(done.output_file_id or "", owner) or b""
        tokens = sum(
            orjson.loads(row)["response"]["body"]["usage"]["completion_tokens"]
            for row in output.splitlines()
        )
        assert done.counts.completed == content.count(b"\n") + 1, done
        await gateway.close()
        return seconds, tokens


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=400)
    parser.add_argument("--gguf", type=Path, default=Path("/work/shared/models/stories260K.gguf"))
    args = parser.parse_args()

    upstream = FakeOpenAI().start()
    upstream.always(delay=0.05)
    print(f"loopback upstream, 50 ms per answer, {args.lines} lines")
    for concurrency in (4, 16, 64):
        backend = f'{{type: openai, base_url: "{upstream.base_url}", pattern: self_hosted}}'
        seconds, _ = await run_batch(backend, batch_file(args.lines, 16), concurrency)
        ideal = concurrency / 0.05
        rate = args.lines / seconds
        share = rate / ideal
        print(
            f"  concurrency {concurrency:3}: {rate:7.1f} lines/s  (ideal {ideal:6.0f}, {share:.2f})"
        )
    upstream.stop()

    lines, tokens = 100, 64
    local = f"{{type: local, models: {{x: {{path: {args.gguf}, max_tokens: {tokens}}}}}}}"
    seconds, produced = await run_batch(local, batch_file(lines, tokens), 4)
    llm = llama_cpp.Llama(str(args.gguf), n_ctx=2048, n_threads=1, verbose=False)
    start = time.perf_counter()
    direct = 0
    for _ in range(lines):
        result = llm.create_completion("Once upon a time", max_tokens=tokens, temperature=0)
        direct += result["usage"]["completion_tokens"]  # type: ignore[index]
    direct_seconds = time.perf_counter() - start
    print(f"local engine ({args.gguf.name}, 1 instance, 1 thread), {lines} lines x {tokens} tokens")
    print(f"  direct llama-cpp-python loop: {direct / direct_seconds:8.1f} tokens/s")
    print(f"  Tripoint batch lane:          {produced / seconds:8.1f} tokens/s  "
          f"ratio {(produced / seconds) / (direct / direct_seconds):.2f}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
