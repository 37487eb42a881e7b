"""User-space instructions per request, counted by callgrind: a noise-free A/B measure.

On a shared, noisy machine CPU time per request moves by tens of percent from run to run;
the number of instructions the gateway executes per request does not (repeat runs agree to
about 0.1%). It leaves out the kernel (socket writes, wake-ups), so it judges changes to
Python code, not to the number of system calls. Slow: the gateway runs under valgrind
(start-up takes a minute or two), so the request counts are small and concurrency is 1.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import h2load, processes
from benchmarks.processes import Process
from benchmarks.scenarios import Cell, Variant, request_body

_TOTALS = re.compile(r"^(?:totals|summary): (\d+)", re.MULTILINE)
SHORT, LONG = 4, 32  # content events of the two stream lengths (their difference: per event)
# Events 20 ms apart arrive one per read even at callgrind's slowness; back to back, how many
# share a read would depend on timing, and so would the count.
INTERVAL_MS = 20


def totals(callgrind_out: str) -> int:
    """The instruction count of one callgrind dump ("totals:" line, else "summary:")."""
    found = [int(n) for n in _TOTALS.findall(callgrind_out)]
    if not found:
        raise ValueError("no totals in callgrind output")
    return max(found)


@dataclass(frozen=True, slots=True)
class Counted:
    variant: str
    per_request: int  # non-streaming, LONG tokens
    per_short_stream: int
    per_long_stream: int

    @property
    def per_event(self) -> float:
        return (self.per_long_stream - self.per_short_stream) / (LONG - SHORT)


class CallgrindGateway:
    """A gateway process under callgrind, instrumentation off until `count` asks for it."""

    def __init__(self, variant: Variant, config: Path, workdir: Path) -> None:
        if shutil.which("valgrind") is None:
            raise RuntimeError("valgrind not found (benchmarks/run --instructions installs it)")
        self.port = processes.free_port()
        self.out = workdir / f"callgrind.{variant.name}"
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
        argv += [f"--callgrind-out-file={self.out}", sys.executable, "-m", "tripoint", "serve"]
        argv += ["--config", str(config), "--log-level", "warning"]
        argv += ["--host", "127.0.0.1", "--port", str(self.port)]
        env = {"PYTHONPATH": str(variant.source / "src")} if variant.source else None
        self.process = Process(argv, f"{variant.name} under callgrind", workdir / "vg.log", env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"

    def wait(self, timeout: float) -> None:
        self.process.wait_for(f"http://127.0.0.1:{self.port}/v1/models", timeout)

    def count(self, load: h2load.Load, log: Path, dump: int) -> int:
        """Instructions spent on `load`, all of it (the dump resets the counters)."""
        self._control("-i", "on")
        h2load.run(load, log)
        self._control("-i", "off")
        self._control("-d")
        path = Path(f"{self.out}.{dump}")
        deadline = time.monotonic() + 60
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        return totals(path.read_text())

    def _control(self, *args: str) -> None:
        argv = ["callgrind_control", *args, str(self.process.pid)]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    def stop(self) -> None:
        self.process.stop()


def measure(
    variants: Sequence[Variant], workdir: Path, requests: int = 200, streams: int = 40
) -> list[Counted]:
    """Start every variant under callgrind at once (start-up is the slow part), then count."""
    upstream, upstream_url = processes.start_upstream(workdir)
    cells = {
        "json": Cell(concurrency=1, stream=False, delay_ms=0, events=LONG),
        "short": Cell(1, stream=True, delay_ms=0, events=SHORT, interval_ms=INTERVAL_MS),
        "long": Cell(1, stream=True, delay_ms=0, events=LONG, interval_ms=INTERVAL_MS),
    }
    bodies = {}
    for name, cell in cells.items():
        bodies[name] = workdir / f"body-{name}.json"
        bodies[name].write_bytes(request_body(cell))
    gateways: list[tuple[Variant, CallgrindGateway]] = []
    try:
        for variant in variants:
            config = workdir / f"{variant.name}.yaml"
            config.write_text(
                variant.config(upstream_url, sorted({c.model for c in cells.values()}))
            )
            vdir = workdir / variant.name
            vdir.mkdir()
            gateways.append((variant, CallgrindGateway(variant, config, vdir)))
        counted = []
        for variant, gateway in gateways:
            gateway.wait(timeout=600)
            log = workdir / "h2load.log"
            for body in bodies.values():  # warm every path before counting
                h2load.run(h2load.Load(gateway.url, body, 1, None, 10), log)
            sizes = {"json": requests, "short": streams, "long": streams}
            per = {}
            for dump, (name, count) in enumerate(sizes.items(), start=1):
                load = h2load.Load(gateway.url, bodies[name], 1, None, count)
                per[name] = gateway.count(load, log, dump) // count
            counted.append(Counted(variant.name, per["json"], per["short"], per["long"]))
        return counted
    finally:
        for _, gateway in gateways:
            gateway.stop()
        upstream.stop()


def markdown(counted: Sequence[Counted]) -> str:
    first = counted[0]
    lines = [
        "| variant | instructions / non-streaming request | / 4-token stream | / 32-token stream"
        " | / streamed event (slope) | request vs first | stream vs first |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in counted:
        request = row.per_request / first.per_request
        stream = row.per_long_stream / first.per_long_stream
        lines.append(
            f"| {row.variant} | {row.per_request:,} | {row.per_short_stream:,} "
            f"| {row.per_long_stream:,} | {row.per_event:,.0f} | {request:.3f} | {stream:.3f} |"
        )
    return "\n".join(lines)
