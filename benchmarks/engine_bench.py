"""Embedded engine throughput through Tripoint vs the runtimes called directly, side by side.

Generation: tokens/s of llama-cpp-python's own streaming `create_completion` against the same
model and thread count through (a) Tripoint's Engine API and (b) the whole gateway over HTTP
(uvicorn on loopback, SSE streaming). Embeddings: inputs/s of ONNX Runtime called directly
(same tokenizer, batch, pooling) against Engine.embed and the gateway's /v1/embeddings.
Rounds alternate between the contenders so a noisy shared machine hurts both alike.

    .venv/bin/python benchmarks/engine_bench.py [--gguf PATH] [--minilm DIR] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx
import llama_cpp
import numpy as np
import onnxruntime as ort
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import GatewayThread  # noqa: E402
from tripoint.config import parse_settings  # noqa: E402
from tripoint.engine import Engine, Generation, Kind, ModelSpec  # noqa: E402
from tripoint.engine.onnx import load_tokenizer  # noqa: E402

PROMPT = "Once upon a time"
SENTENCES = [f"Sentence number {i} about {w} and what it means." for i, w in enumerate(
    ["food", "bread", "movies", "gateways", "rivers", "trains", "music", "cities"] * 32
)]  # fmt: skip


def direct_generation(llm: llama_cpp.Llama, max_tokens: int) -> tuple[int, float]:
    start = time.perf_counter()
    produced = 0
    for chunk in llm.create_completion(PROMPT, max_tokens=max_tokens, temperature=0, stream=True):
        produced += (
            1 if chunk["choices"][0]["text"] or not chunk["choices"][0]["finish_reason"] else 0
        )  # type: ignore[index]
    return produced, time.perf_counter() - start


def direct_token_loop(llm: llama_cpp.Llama, max_tokens: int) -> tuple[int, float]:
    """The leanest direct use: Llama.generate plus detokenize, as Tripoint's worker does."""
    start = time.perf_counter()
    tokens = llm.tokenize(PROMPT.encode(), add_bos=True, special=True)
    produced = 0
    for token in llm.generate(tokens, temp=0, top_p=1.0):
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token) or produced >= max_tokens:
            break
        llm.detokenize([token])
        produced += 1
    return produced, time.perf_counter() - start


async def engine_generation(engine: Engine, max_tokens: int) -> tuple[int, float]:
    start = time.perf_counter()
    last = None
    async for piece in engine.generate(
        "m", Generation(PROMPT, max_tokens=max_tokens, temperature=0)
    ):
        last = piece
    assert last is not None
    return last.completion_tokens, time.perf_counter() - start


def http_generation(url: str, max_tokens: int) -> tuple[int, float]:
    body = {"model": "chat", "prompt": PROMPT, "max_tokens": max_tokens, "temperature": 0,
            "stream": True, "stream_options": {"include_usage": True}}  # fmt: skip
    start = time.perf_counter()
    produced = 0
    with httpx.stream("POST", url + "/v1/completions", json=body, timeout=300) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                event = orjson.loads(line[6:])
                if event.get("usage"):
                    produced = event["usage"]["completion_tokens"]
    return produced, time.perf_counter() - start


def direct_embeddings(tokenizer: object, session: ort.InferenceSession, batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(SENTENCES), batch):
        encodings = tokenizer.encode_batch(SENTENCES[i : i + batch])  # type: ignore[attr-defined]
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                    "token_type_ids": np.zeros_like(ids)})[0]  # fmt: skip
        weights = mask[..., None].astype(hidden.dtype)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).tolist()
    return len(SENTENCES) / (time.perf_counter() - start)


async def engine_embeddings(engine: Engine) -> float:
    start = time.perf_counter()
    await engine.embed("e", SENTENCES)
    return len(SENTENCES) / (time.perf_counter() - start)


def http_embeddings(url: str) -> float:
    start = time.perf_counter()
    response = httpx.post(
        url + "/v1/embeddings", json={"model": "embed", "input": SENTENCES}, timeout=300
    )
    response.raise_for_status()
    return len(SENTENCES) / (time.perf_counter() - start)


def report(name: str, unit: str, baseline: list[float], others: dict[str, list[float]]) -> None:
    """Medians, and the median of per-round ratios: each round's contenders ran back to back,
    so pairing them cancels most of the drift of a machine shared with other work."""
    print(f"\n{name} ({unit}, median of {len(baseline)} alternating rounds; ratio = median of")
    print("  per-round ratios to `direct`, with the lowest and highest round)")
    print(f"  {'direct':<28} {statistics.median(baseline):10.1f}")
    for label, values in others.items():
        ratios = sorted(v / b for v, b in zip(values, baseline, strict=True))
        print(
            f"  {label:<28} {statistics.median(values):10.1f}   ratio "
            f"{statistics.median(ratios):.3f}  [{ratios[0]:.2f} .. {ratios[-1]:.2f}]"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--gguf", type=Path, default=ROOT / ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    parser.add_argument("--minilm", type=Path, default=ROOT / ".cache/models/all-MiniLM-L6-v2")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"model {args.gguf.name}, threads {args.threads}, max_tokens {args.max_tokens}, "
          f"llama-cpp-python {llama_cpp.__version__}, onnxruntime {ort.__version__}")  # fmt: skip

    spec = ModelSpec(
        "m", args.gguf, Kind.GENERATE, context=2048, max_tokens=4096, threads=args.threads
    )
    embed = ModelSpec(
        "e", args.minilm, Kind.EMBED, context=256, batch=args.batch, threads=args.threads
    )
    engine = Engine([spec, embed])
    await engine.start()
    settings = parse_settings(f"""
batch: {{enabled: false}}
backends:
  local:
    type: local
    models:
      m: {{path: {args.gguf}, max_tokens: 4096, threads: {args.threads}}}
      e: {{path: {args.minilm}, context: 256, batch: {args.batch}, threads: {args.threads}}}
models:
  chat: {{targets: [{{backend: local, model: m}}], operations: [completions]}}
  embed: {{targets: [{{backend: local, model: e}}], operations: [embeddings]}}
""")  # fmt: skip
    gateway = GatewayThread(settings).start()
    while not engine.ready() or httpx.get(gateway.url + "/readyz").status_code != 200:
        await asyncio.sleep(0.05)
    # after the engine loaded: llama.cpp loads must not overlap (they swap stdout/stderr)
    llm = llama_cpp.Llama(str(args.gguf), n_ctx=2048, n_threads=args.threads,
                          n_threads_batch=args.threads, verbose=False)  # fmt: skip
    tokenizer = load_tokenizer(args.minilm, 256)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
    session = ort.InferenceSession(
        str(args.minilm / "model.onnx"), options, providers=["CPUExecutionProvider"]
    )

    generation = {
        "direct": lambda: asyncio.to_thread(direct_generation, llm, args.max_tokens),
        "direct token loop": lambda: asyncio.to_thread(direct_token_loop, llm, args.max_tokens),
        "Tripoint Engine API": lambda: engine_generation(engine, args.max_tokens),
        "Tripoint gateway (HTTP SSE)": lambda: asyncio.to_thread(
            http_generation, gateway.url, args.max_tokens
        ),
    }
    runs: dict[str, list[float]] = {label: [] for label in generation}
    for _ in range(args.rounds + 1):  # the first round warms caches and is dropped
        for label, run in generation.items():
            tokens, seconds = await run()
            runs[label].append(tokens / seconds)
    report("generation", "tokens/s", runs.pop("direct")[1:], {k: v[1:] for k, v in runs.items()})

    embeds: dict[str, list[float]] = {
        "direct": [],
        "Tripoint Engine API": [],
        "Tripoint gateway (HTTP)": [],
    }
    for _ in range(args.rounds + 1):
        embeds["direct"].append(direct_embeddings(tokenizer, session, args.batch))
        embeds["Tripoint Engine API"].append(await engine_embeddings(engine))
        embeds["Tripoint gateway (HTTP)"].append(
            await asyncio.to_thread(http_embeddings, gateway.url)
        )
    report(
        "embeddings", "inputs/s", embeds.pop("direct")[1:], {k: v[1:] for k, v in embeds.items()}
    )

    gateway.stop()
    await engine.close()


if __name__ == "__main__":
    asyncio.run(main())
