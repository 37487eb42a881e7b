"""Run the matrix: the client straight to the upstream, then through each gateway variant.

Cells are interleaved (direct, then every variant, cell by cell) so that a noisy neighbour
on the shared machine hits both sides of a comparison alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from benchmarks import h2load, instructions, processes, report, ttft
from benchmarks.processes import Memory, Process
from benchmarks.scenarios import VARIANTS, Cell, Variant, matrix, redis_env, request_body

DIRECT = "direct"


@dataclass(frozen=True, slots=True)
class Plan:
    concurrencies: tuple[int, ...] = (1, 16, 64)
    delays_ms: tuple[int, ...] = (0, 50)
    events: int = 32
    event_sweep: tuple[int, ...] = (4, 128)  # extra stream lengths, for the marginal event cost
    duration: float | None = 3.0  # seconds per h2load cell; None: a fixed count of requests
    warmup: int = 10  # unmeasured requests per connection before each measured cell
    requests: int = 0  # per h2load cell when duration is None
    ttft_requests: int = 300
    ttft_seconds: float = 2.0
    startups: int = 3  # fresh gateway processes timed from spawn to first 200


FULL = Plan()
QUICK = Plan(duration=1.0, warmup=4, ttft_requests=100, ttft_seconds=0.75, startups=1)
# the smoke test's: every piece runs, nothing is measured seriously
SMOKE = Plan(
    concurrencies=(1, 2),
    delays_ms=(0,),
    events=4,
    event_sweep=(2, 8),
    duration=None,
    warmup=1,
    requests=20,
    ttft_requests=4,
    ttft_seconds=5.0,
    startups=1,
)


@dataclass(frozen=True, slots=True)
class Measured:
    cell: Cell
    target: str  # DIRECT or a variant's name
    load: h2load.LoadResult
    gateway_cpu_s: float | None  # the gateway's CPU during the h2load run (None: direct)
    upstream_cpu_s: float
    stream: ttft.StreamTimes | None = None


@dataclass(slots=True)
class GatewayFacts:
    variant: str
    startups_s: list[float] = field(default_factory=list)
    idle: Memory | None = None
    after_load: Memory | None = None


@dataclass(frozen=True, slots=True)
class Results:
    plan: Plan
    measured: list[Measured]
    gateways: list[GatewayFacts]
    machine: dict[str, str]
    command: str
    seconds: float


class Bench:
    """Owns the processes of one run; `close()` stops every one of them."""

    def __init__(self, plan: Plan, variants: Sequence[Variant], workdir: Path) -> None:
        self.plan = plan
        self.variants = variants
        self.workdir = workdir
        self.cells = matrix(plan.concurrencies, plan.delays_ms, plan.events, plan.event_sweep)
        self.upstream: Process | None = None
        self.upstream_url = ""
        self.gateways: dict[str, tuple[Process, str]] = {}  # variant -> (process, /v1 URL)
        self.facts: dict[str, GatewayFacts] = {v.name: GatewayFacts(v.name) for v in variants}
        self.redis: list[Process] = []
        self.env: dict[str, str] = {}  # for the gateways: where the run's redis-servers listen

    def start(self) -> None:
        self.upstream, self.upstream_url = processes.start_upstream(self.workdir)
        for fsync in sorted({v.redis for v in self.variants if v.redis}):
            redis, url = processes.start_redis(self.workdir / fsync, fsync)
            self.redis.append(redis)
            self.env[redis_env(fsync)] = url
        for variant in self.variants:
            self._start_gateway(variant)

    def close(self) -> None:
        for process, _ in self.gateways.values():
            process.stop()
        if self.upstream is not None:
            self.upstream.stop()
        for redis in self.redis:
            redis.stop()

    def _config(self, variant: Variant) -> Path:
        path = self.workdir / f"{variant.name}.yaml"
        path.write_text(variant.config(self.upstream_url, sorted({c.model for c in self.cells})))
        return path

    def _start_gateway(self, variant: Variant) -> None:
        config = self._config(variant)
        facts = self.facts[variant.name]
        log = self.workdir / f"{variant.name}.log"
        for _ in range(self.plan.startups - 1):  # fresh processes, timed, then stopped
            process, startup = processes.start_gateway(
                config, processes.free_port(), log, source=variant.source, env=self.env
            )
            process.stop()
            facts.startups_s.append(startup)
        port = processes.free_port()
        process, startup = processes.start_gateway(
            config, port, log, source=variant.source, env=self.env
        )
        facts.startups_s.append(startup)
        time.sleep(0.5)  # let start-up garbage settle before calling the process idle
        facts.idle = processes.memory(process.pid)
        self.gateways[variant.name] = (process, f"http://127.0.0.1:{port}/v1")

    def measure(self) -> list[Measured]:
        measured: list[Measured] = []
        for cell in self.cells:
            body = self.workdir / f"body-{cell.model}-{int(cell.stream)}.json"
            body.write_bytes(request_body(cell))
            measured.append(self._cell(cell, body, DIRECT, self.upstream_url, None))
            for name, (process, url) in self.gateways.items():
                measured.append(self._cell(cell, body, name, url, process))
            print(report.progress(measured[-1 - len(self.gateways) :]), file=sys.stderr)
        for name, (process, _) in self.gateways.items():
            self.facts[name].after_load = processes.memory(process.pid)
        return measured

    def _cell(
        self, cell: Cell, body: Path, target: str, base_url: str, gateway: Process | None
    ) -> Measured:
        assert self.upstream is not None
        url = base_url + "/chat/completions"
        warmup = h2load.Load(url, body, cell.concurrency, None, cell.concurrency * self.plan.warmup)
        h2load.run(warmup, self.workdir / "h2load.log")
        load = h2load.Load(url, body, cell.concurrency, self.plan.duration, self.plan.requests)
        up_before = processes.cpu_seconds(self.upstream.pid)
        gw_before = processes.cpu_seconds(gateway.pid) if gateway else 0.0
        result = h2load.run(load, self.workdir / "h2load.log")
        gw_cpu = processes.cpu_seconds(gateway.pid) - gw_before if gateway else None
        up_cpu = processes.cpu_seconds(self.upstream.pid) - up_before
        stream = None
        if cell.stream:
            stream = ttft.run(
                url,
                body.read_bytes(),
                cell.concurrency,
                self.plan.ttft_requests,
                self.plan.ttft_seconds,
            )
        return Measured(cell, target, result, gw_cpu, up_cpu, stream)


def machine_facts() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    with Path("/proc/loadavg").open() as loadavg:
        load = " ".join(loadavg.read().split()[:3])
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load average at start": load,
    }


def run(plan: Plan, variants: Sequence[Variant], workdir: Path, command: str) -> Results:
    started = time.perf_counter()
    facts = machine_facts()
    bench = Bench(plan, variants, workdir)
    try:
        bench.start()
        measured = bench.measure()
    finally:
        bench.close()
    return Results(
        plan=plan,
        measured=measured,
        gateways=list(bench.facts.values()),
        machine=facts,
        command=command,
        seconds=time.perf_counter() - started,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short cells (about a minute)")
    parser.add_argument(
        "--variant",
        action="append",
        choices=[v.name for v in VARIANTS],
        help="gateway variants to measure (default: all)",
    )
    parser.add_argument("--duration", type=float, help="seconds per h2load cell")
    parser.add_argument(
        "--concurrency", type=int, action="append", help="only these concurrencies (repeatable)"
    )
    parser.add_argument("--delay", type=int, action="append", help="only these delays (ms)")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also run each variant from this source tree (e.g. a worktree of main): 'baseline', "
        "'baseline-limits', ...",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="instead: count user-space instructions per request under callgrind (noise-free)",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.duration:
        plan = replace(plan, duration=args.duration)
    if args.concurrency:
        plan = replace(plan, concurrencies=tuple(args.concurrency))
    if args.delay:
        plan = replace(plan, delays_ms=tuple(args.delay))
    variants = [v for v in VARIANTS if not args.variant or v.name in args.variant]
    if args.baseline:
        if not (args.baseline / "src" / "tripoint").is_dir():
            parser.error(f"{args.baseline} has no src/tripoint")
        # each chosen variant again from that tree: `baseline` (the bare one), `baseline-limits`
        source = args.baseline.resolve()
        variants += [
            replace(v, name="baseline" if v is VARIANTS[0] else f"baseline-{v.name}", source=source)
            for v in list(variants)
        ]
    command = "benchmarks/run " + " ".join(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    if args.instructions:
        with tempfile.TemporaryDirectory(prefix="tripoint-callgrind-") as tmp:
            text = f"Command: `{command.strip()}`\n\n" + instructions.markdown(
                instructions.measure(variants, Path(tmp))
            )
        print(text)
        (args.out / f"{stamp}-instructions.md").write_text(text + "\n")
        return 0
    with tempfile.TemporaryDirectory(prefix="tripoint-bench-") as tmp:
        results = run(plan, variants, Path(tmp), command.strip())
    text = report.markdown(results)
    print(text)
    (args.out / f"{stamp}.md").write_text(text)
    (args.out / f"{stamp}.json").write_text(json.dumps(asdict(results), indent=1, default=str))
    return 0
