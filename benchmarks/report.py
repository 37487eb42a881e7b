"""Markdown tables of a run: side by side with the direct baseline, then against the targets."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from benchmarks.scenarios import events_per_stream

if TYPE_CHECKING:
    from benchmarks.harness import GatewayFacts, Measured, Results

DIRECT = "direct"


def _f(value: float | None, digits: int = 2) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


def _per_request_us(row: Measured) -> float | None:
    if row.gateway_cpu_s is None or row.load.ok == 0:
        return None
    return row.gateway_cpu_s / row.load.ok * 1e6


def _per_event_us(row: Measured) -> float | None:
    per_request = _per_request_us(row)
    if per_request is None:
        return None
    return per_request / events_per_stream(row.cell)


def marginal_event_us(rows: Sequence[Measured], variant: str) -> float | None:
    """CPU of one more streamed event: the slope of CPU per stream between the shortest and
    the longest streams measured at the same concurrency without delay (per-request costs
    cancel out)."""
    streams = [
        r
        for r in rows
        if r.target == variant and r.cell.stream and r.cell.delay_ms == 0 and r.load.ok
    ]
    by_concurrency: dict[int, list[Measured]] = {}
    for row in streams:
        by_concurrency.setdefault(row.cell.concurrency, []).append(row)
    candidates = [group for group in by_concurrency.values() if len(group) > 1]
    if not candidates:
        return None
    group = max(candidates, key=len)
    short = min(group, key=lambda r: r.cell.events)
    long = max(group, key=lambda r: r.cell.events)
    short_us, long_us = _per_request_us(short), _per_request_us(long)
    if short_us is None or long_us is None or long.cell.events == short.cell.events:
        return None
    return (long_us - short_us) / (events_per_stream(long.cell) - events_per_stream(short.cell))


def _cpu_share(row: Measured) -> float | None:
    if row.gateway_cpu_s is None or row.load.seconds <= 0:
        return None
    return row.gateway_cpu_s / row.load.seconds * 100


def progress(rows: Sequence[Measured]) -> str:
    parts = [f"{rows[0].cell.label:>22}"]
    parts += [f"{r.target}: {r.load.rps:8.0f} req/s p50 {r.load.p(50):7.2f} ms" for r in rows]
    return " | ".join(parts)


def _baseline(rows: Sequence[Measured], row: Measured) -> Measured | None:
    return next((r for r in rows if r.cell == row.cell and r.target == DIRECT), None)


def _added(value: float, base: float | None) -> str:
    return "-" if base is None else _f(value - base)


def _table(rows: Sequence[Measured], *, stream: bool) -> list[str]:
    head = [
        "delay",
        "conc",
        *(["events"] if stream else []),
        "path",
        "req/s",
        "vs direct",
        "p50 ms",
        "p99 ms",
        "added p50 ms",
        "added p99 ms",
    ]
    if stream:
        head += ["TTFT p50 ms", "added TTFT p50", "added TTFT p99"]
    head += ["gw CPU µs/req"]
    if stream:
        head += ["gw CPU µs/event"]
    head += ["gw CPU %", "upstream CPU %", "failed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in (r for r in rows if r.cell.stream is stream):
        base = _baseline(rows, row)
        is_base = row.target == DIRECT
        cells = [
            f"{row.cell.delay_ms} ms",
            str(row.cell.concurrency),
            *([str(row.cell.events)] if stream else []),
            row.target,
            _f(row.load.rps, 0),
            "1.00" if is_base or base is None else _f(row.load.rps / base.load.rps),
            _f(row.load.p(50)),
            _f(row.load.p(99)),
            "" if is_base else _added(row.load.p(50), base.load.p(50) if base else None),
            "" if is_base else _added(row.load.p(99), base.load.p(99) if base else None),
        ]
        if stream:
            ours, theirs = row.stream, base.stream if base else None
            cells.append(_f(ours.ttft(50)) if ours else "-")
            for q in (50, 99):
                if is_base or ours is None or theirs is None:
                    cells.append("")
                else:
                    cells.append(_added(ours.ttft(q), theirs.ttft(q)))
        cells.append(_f(_per_request_us(row), 0))
        if stream:
            cells.append(_f(_per_event_us(row), 1))
        cells.append(_f(_cpu_share(row), 0))
        up_share = row.upstream_cpu_s / row.load.seconds * 100 if row.load.seconds else None
        cells.append(_f(up_share, 0))
        failed = row.load.failed + (row.stream.failed if row.stream else 0)
        cells.append(str(failed))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _gateways(facts: Sequence[GatewayFacts]) -> list[str]:
    lines = [
        "| variant | start-up to first 200 (s) | idle RSS MiB | RSS after load MiB"
        " | peak RSS MiB |",
        "|---|---|---|---|---|",
    ]
    for fact in facts:
        startup = statistics.median(fact.startups_s) if fact.startups_s else math.nan
        spread = f"{min(fact.startups_s):.2f}-{max(fact.startups_s):.2f}" if fact.startups_s else ""
        after = fact.after_load
        lines.append(
            f"| {fact.variant} | {startup:.2f} (median of {len(fact.startups_s)}: {spread}) "
            f"| {_f(fact.idle.rss_mib if fact.idle else None, 1)} "
            f"| {_f(after.rss_mib if after else None, 1)} "
            f"| {_f(after.peak_mib if after else None, 1)} |"
        )
    return lines


def _pick(rows: Sequence[Measured], variant: str, **where: object) -> Measured | None:
    for row in rows:
        if row.target == variant and all(getattr(row.cell, k) == v for k, v in where.items()):
            return row
    return None


def _targets(results: Results, variant: str) -> list[str]:
    """The issue's targets for the bare data plane, compared (never asserted)."""
    rows = results.measured
    facts = next(f for f in results.gateways if f.variant == variant)
    one = _pick(rows, variant, stream=False, delay_ms=0, concurrency=1)
    base = one and _baseline(rows, one)
    added = one.load.p(50) - base.load.p(50) if one and base else None
    best = max(
        (r.load.rps for r in rows if r.target == variant and not r.cell.stream), default=None
    )
    main = [
        r
        for r in rows
        if r.target == variant
        and r.cell.stream
        and r.load.ok
        and r.cell.events == results.plan.events
    ]
    per_event = [v for v in (_per_event_us(r) for r in main) if v is not None]
    startup = statistics.median(facts.startups_s) if facts.startups_s else None
    idle = facts.idle.rss_mib * 1.048576 if facts.idle else None  # MiB -> MB

    def verdict(value: float | None, goal: float, *, at_most: bool) -> str:
        if value is None:
            return "-"
        return "met" if (value <= goal if at_most else value >= goal) else "**missed**"

    lines = ["| target | goal | measured | |", "|---|---|---|---|"]
    table = [
        ("added p50, concurrency 1, non-streaming", "<= 1 ms", added, 1.0, True, "ms"),
        ("non-streaming requests/s (best cell)", ">= 2,000", best, 2000, False, "req/s"),
        (
            f"CPU per streamed event, all-in ({results.plan.events}-token streams, worst cell)",
            "<= 50 µs",
            max(per_event, default=None),
            50,
            True,
            "µs",
        ),
        (
            "CPU per streamed event, marginal (one more event)",
            "<= 50 µs",
            marginal_event_us(rows, variant),
            50,
            True,
            "µs",
        ),
        ("idle RSS", "<= 100 MB", idle, 100, True, "MB"),
        ("start-up to first answer (median)", "<= 2 s", startup, 2, True, "s"),
    ]
    for name, goal_text, value, goal, at_most, unit in table:
        digits = 0 if unit == "req/s" else 2
        lines.append(
            f"| {name} | {goal_text} | {_f(value, digits)} {unit} "
            f"| {verdict(value, goal, at_most=at_most)} |"
        )
    return lines


def markdown(results: Results) -> str:
    plan = results.plan
    machine = ", ".join(f"{k}: {v}" for k, v in results.machine.items())
    window = f"{plan.duration:g} s" if plan.duration else f"{plan.requests} requests"
    out = [
        f"## Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Command: `{results.command}` ({results.seconds:.0f} s in all). Machine: {machine}.",
        f"Each h2load cell: {window} after {plan.warmup} unmeasured requests per connection; "
        f"streams carry {plan.events} content events (plus role, finish and usage events; "
        f"the sweep adds {', '.join(map(str, plan.event_sweep)) or 'nothing'}); TTFT from up "
        f"to {plan.ttft_requests} streams per cell.",
        "",
    ]
    for variant in (f.variant for f in results.gateways):
        out += [f"### Targets ({variant})", "", *_targets(results, variant), ""]
    out += ["### Non-streaming", "", *_table(results.measured, stream=False), ""]
    out += ["### Streaming", "", *_table(results.measured, stream=True), ""]
    out += ["### Gateway process", "", *_gateways(results.gateways), ""]
    return "\n".join(out)
