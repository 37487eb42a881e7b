"""Telemetry's cost: the same gateway with telemetry off and on, side by side, in one run.

Starts one fake OpenAI upstream, a loopback OTLP/HTTP sink, and three `tripoint serve`
processes that differ only in their `telemetry` section:

  off: no metrics, no tracing, no access log (the record stage still runs: it is the core)
  off again: the same, as a control for the noise of the machine
  metrics+traces: Prometheus metrics, OpenTelemetry spans (every call sampled) exported
       over OTLP/HTTP (JSON) to the sink, the in-memory recent records
  sampled 10%: the same with head sampling at 10% (trace context still propagated)
  +access log: metrics+traces plus the JSON access line per call at info level

then drives all with the same closed-loop load (alternating rounds, so drift on a shared
machine hits both alike) and prints requests per second and the on/off ratio.

Usage: .venv/bin/python benchmarks/telemetry_overhead.py [--requests 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import free_port  # noqa: E402

UPSTREAM = """
import sys, time
from tests.fakes.openai_upstream import FakeOpenAI
server = FakeOpenAI().start()
print(server.base_url, flush=True)
while True:
    time.sleep(3600)
"""

OTLP_SINK = """
import sys
from aiohttp import web
count = 0
async def traces(request):
    global count
    await request.read()
    count += 1
    return web.Response(status=200, content_type="application/x-protobuf", body=b"")
app = web.Application()
app.router.add_post("/v1/traces", traces)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

OFF = """
telemetry:
  metrics: {enabled: false}
  tracing: {enabled: false}
  access_log: false
  recent_records: 0
"""
TELEMETRY = {
    "off": OFF,
    "off again": OFF,  # the control: how far two identical gateways differ in one run
    "metrics+traces": """
telemetry:
  metrics: {enabled: true}
  tracing: {enabled: true, otlp_endpoint: "http://127.0.0.1:{otlp}/v1/traces"}
  access_log: false
""",
    "sampled 10%": """
telemetry:
  metrics: {enabled: true}
  tracing: {sample_ratio: 0.1, otlp_endpoint: "http://127.0.0.1:{otlp}/v1/traces"}
  access_log: false
""",
    "+access log": """
telemetry:
  metrics: {enabled: true}
  tracing: {enabled: true, otlp_endpoint: "http://127.0.0.1:{otlp}/v1/traces"}
  access_log: true
""",
}


def config(upstream: str, telemetry: str) -> str:
    return textwrap.dedent(
        f"""
        backends:
          fake:
            type: openai
            base_url: {upstream}
            pattern: self_hosted
        models:
          chat-default:
            targets: [{{backend: fake, model: upstream-chat}}]
        """
    ) + textwrap.dedent(telemetry)


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("wb") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=out)


async def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never became ready")


async def drive(url: str, body: dict[str, object], requests: int, concurrency: int) -> float:
    """Closed loop: `concurrency` clients, `requests` calls in all; returns calls per second."""
    remaining = requests
    failures = 0

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal remaining, failures
        while remaining > 0:
            remaining -= 1
            async with session.post(url, json=body) as response:
                await response.read()
                failures += response.status != 200

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{failures} calls failed against {url}")
    return requests / elapsed


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (the span exporter's included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(args: argparse.Namespace, gateways: dict[str, str], pids: dict[str, int]) -> None:
    messages = [{"role": "user", "content": "Hello, how are you today?"}]
    bodies = {
        "chat": {"model": "chat-default", "messages": messages},
        "chat stream": {"model": "chat-default", "messages": messages, "stream": True},
    }
    for url in gateways.values():  # warm each: connections, lazy imports, caches
        await drive(url, bodies["chat"], 200, args.concurrency)
    names = list(gateways)
    print(f"requests={args.requests} concurrency={args.concurrency} rounds={args.rounds}")
    print("throughput (median req/s) and gateway CPU per call (median ms, all threads):")
    header = "".join(f"{n:>16}" for n in names)
    print(f"{'scenario':<12} {'':<8}{header}  on/off")
    for scenario, body in bodies.items():
        rates: dict[str, list[float]] = {name: [] for name in gateways}
        cpu: dict[str, list[float]] = {name: [] for name in gateways}
        for round_number in range(args.rounds):
            turn = round_number % len(names)  # rotate who goes first: no order bias
            for name in names[turn:] + names[:turn]:
                url = gateways[name]
                before = cpu_seconds(pids[name])
                rates[name].append(await drive(url, body, args.requests, args.concurrency))
                cpu[name].append((cpu_seconds(pids[name]) - before) / args.requests * 1000)
        rate = {n: statistics.median(r) for n, r in rates.items()}
        ms = {n: statistics.median(c) for n, c in cpu.items()}
        rate_ratio = " ".join(f"{rate[n] / rate['off']:.3f}" for n in names[1:])
        # throughput a saturated gateway can reach scales with 1 / CPU per call
        cpu_ratio = " ".join(f"{ms['off'] / ms[n]:.3f}" for n in names[1:])
        print(
            f"{scenario:<12} {'req/s':<8}"
            + "".join(f"{rate[n]:>16.0f}" for n in names)
            + f"  {rate_ratio}"
        )
        print(
            f"{'':<12} {'cpu ms':<8}"
            + "".join(f"{ms[n]:>16.3f}" for n in names)
            + f"  {cpu_ratio} (off/on)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tripoint-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        upstream = spawn([sys.executable, "-c", UPSTREAM], work / "upstream.log")
        processes.append(upstream)
        assert upstream.stdout is not None
        upstream_url = upstream.stdout.readline().decode().strip()
        otlp = free_port()
        processes.append(spawn([sys.executable, "-c", OTLP_SINK, str(otlp)], work / "otlp.log"))
        gateways: dict[str, str] = {}
        pids: dict[str, int] = {}
        for name, telemetry in TELEMETRY.items():
            path = work / f"{name}.yaml"
            path.write_text(config(upstream_url, telemetry.replace("{otlp}", str(otlp))))
            port = free_port()
            command = [sys.executable, "-m", "tripoint", "serve", "--config", str(path)]
            command += ["--port", str(port), "--log-level", "info"]
            process = spawn(command, work / f"{name}.log")
            processes.append(process)
            pids[name] = process.pid
            gateways[name] = f"http://127.0.0.1:{port}"
        for url in gateways.values():
            asyncio.run(wait_ready(url + "/readyz"))
        urls = {n: u + "/v1/chat/completions" for n, u in gateways.items()}
        asyncio.run(measure(args, urls, pids))
        lines = sum(1 for _ in (work / "+access log.log").open("rb"))
        print(f"log lines written with the access log on: {lines}; logs in {work}")
    finally:
        for process in reversed(processes):  # gateways first: they flush spans to the sink
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    main()
