"""The benchmark harness's pieces work end to end in a tiny mode (nothing is timed here)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from benchmarks import h2load, harness, instructions, processes, report, ttft
from benchmarks.processes import Process
from benchmarks.scenarios import VARIANTS, Cell, bare_config, request_body

needs_h2load = pytest.mark.skipif(
    shutil.which("h2load") is None,
    reason="h2load (Debian nghttp2-client) is installed by benchmarks/run",
)


@pytest.fixture(scope="module")
def fast_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = processes.start_upstream(tmp_path_factory.mktemp("upstream"))
    yield url
    process.stop()


@pytest.fixture(scope="module")
def bench_gateway(
    fast_upstream: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Process, str]]:
    workdir = tmp_path_factory.mktemp("gateway")
    config = workdir / "bare.yaml"
    config.write_text(bare_config(fast_upstream, ["bench-d0-e4"]))
    port = processes.free_port()
    process, _ = processes.start_gateway(config, port, workdir / "gateway.log")
    yield process, f"http://127.0.0.1:{port}/v1"
    process.stop()


@pytest.mark.parametrize("model", ["bench-d0-e4", "bench-d5-e4-i5"])
def test_fast_upstream_speaks_the_openai_wire_format(fast_upstream: str, model: str) -> None:
    client = openai.OpenAI(base_url=fast_upstream, api_key="unused", max_retries=0)
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": "hi"}
    ]

    whole = client.chat.completions.create(model=model, messages=messages)
    stream = client.chat.completions.create(
        model=model, messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    assert whole.choices[0].message.content == " tok" * 4
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == " tok" * 4
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4


def test_stream_client_counts_first_tokens_and_events_through_the_gateway(
    bench_gateway: tuple[Process, str],
) -> None:
    _, url = bench_gateway
    cell = Cell(concurrency=2, stream=True, delay_ms=0, events=4)

    times = ttft.run(url + "/chat/completions", request_body(cell), 2, requests=4, seconds=10)

    assert (times.ok, times.failed, times.events) == (4, 0, 16)
    assert all(first <= total for first, total in zip(times.first_ms, times.total_ms, strict=True))


def test_gateway_process_reports_cpu_and_memory(bench_gateway: tuple[Process, str]) -> None:
    process, _ = bench_gateway

    cpu = processes.cpu_seconds(process.pid)
    memory = processes.memory(process.pid)

    assert cpu > 0
    assert 0 < memory.rss_mib <= memory.peak_mib


def test_baseline_gateway_runs_from_its_own_source_tree(fast_upstream: str, tmp_path: Path) -> None:
    tree = tmp_path / "other"
    shutil.copytree(
        processes.ROOT / "src",
        tree / "src",
        ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"),
    )
    models = tree / "src" / "tripoint" / "api" / "models.py"
    models.write_text(models.read_text().replace('"owned_by": "tripoint"', '"owned_by": "other"'))
    config = tmp_path / "bare.yaml"
    config.write_text(bare_config(fast_upstream, ["bench-d0-e4"]))
    port = processes.free_port()

    process, _ = processes.start_gateway(config, port, tmp_path / "gateway.log", source=tree)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="-", max_retries=0)
        owners = {model.owned_by for model in client.models.list()}
    finally:
        process.stop()

    assert owners == {"other"}


def test_h2load_log_gives_exact_percentiles_and_counts_failures() -> None:
    log = "\n".join(f"{1_000_000 + i}\t200\t{(i + 1) * 1000}" for i in range(100))
    log += "\n2000000\t502\t10\n"
    summary = (
        "requests: 102 total, 102 started, 102 done, 100 succeeded, 2 failed, 1 errored, 0 timeout"
    )

    result = h2load.parse(log, summary, duration=2.0)

    assert result.ok == 100
    assert result.failed == 2
    assert (result.p(50), result.p(99), result.p(100)) == (50.0, 99.0, 100.0)
    assert result.rps == 50.0


def test_callgrind_totals_become_instructions_per_request_and_per_event() -> None:
    dump = "events: Ir\nsummary: 0\nfn=(1) main\n16 5\ntotals: 1200000\n"
    counted = instructions.Counted("tripoint", 1_000_000, 2_000_000, 2_140_000)

    table = instructions.markdown([counted])

    assert instructions.totals(dump) == 1_200_000
    assert counted.per_event == 5_000
    assert "| tripoint | 1,000,000 | 2,000,000 | 2,140,000 | 5,000 | 1.000 | 1.000 |" in table


@pytest.mark.slow
@needs_h2load
def test_harness_runs_every_cell_and_renders_the_report(tmp_path: Path) -> None:
    results = harness.run(harness.SMOKE, VARIANTS, tmp_path, "benchmarks/run --smoke")

    text = report.markdown(results)

    plan = harness.SMOKE
    cells = len(plan.concurrencies) * len(plan.delays_ms) * 2 + len(plan.event_sweep)
    assert len(results.measured) == cells * (1 + len(VARIANTS))
    assert all(m.load.ok > 0 and m.load.failed == 0 for m in results.measured)
    assert all(m.stream is not None and m.stream.ok > 0 for m in results.measured if m.cell.stream)
    assert all(m.gateway_cpu_s is not None for m in results.measured if m.target != "direct")
    assert all(f.idle is not None and f.startups_s for f in results.gateways)
    assert "### Targets (tripoint)" in text
    assert "| 0 ms | 2 | tripoint |" in text
    assert report.marginal_event_us(results.measured, "tripoint") is not None
