"""Admission control: bounded in-flight calls, a bounded priority queue, 503 beyond it."""

from __future__ import annotations

import asyncio

import pytest

from tripoint.config.routing import Admission
from tripoint.routing.admission import AdmissionGate, SaturatedError


async def test_in_flight_is_bounded_and_the_queue_is_served_by_priority() -> None:
    gate = AdmissionGate("gpu", Admission(max_in_flight=1, queue=3))
    order: list[str] = []
    release = asyncio.Event()

    async def call(name: str, priority: int) -> None:
        async with gate.slot(priority):
            order.append(name)
            await release.wait()

    holder = asyncio.create_task(call("first", 0))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(call(n, p)) for n, p in [("batch", 1), ("chat", 0)]]
    await asyncio.sleep(0.01)

    assert gate.in_flight == 1
    assert gate.queued == 2
    release.set()
    await asyncio.gather(holder, *waiters)

    assert order == ["first", "chat", "batch"]
    assert gate.in_flight == 0


async def test_full_queue_is_rejected_with_retry_after() -> None:
    gate = AdmissionGate("gpu", Admission(max_in_flight=1, queue=1))
    hold = asyncio.Event()

    async def occupy() -> None:
        async with gate.slot(0):
            await hold.wait()

    tasks = [asyncio.create_task(occupy()) for _ in range(2)]
    await asyncio.sleep(0.01)

    with pytest.raises(SaturatedError) as caught:
        async with gate.slot(0):
            pass

    assert caught.value.status == 503
    assert caught.value.retry_after is not None
    assert caught.value.retry_after >= 1
    hold.set()
    await asyncio.gather(*tasks)


async def test_queue_wait_is_bounded_by_its_timeout() -> None:
    gate = AdmissionGate("gpu", Admission(max_in_flight=1, queue=5, queue_timeout=0.05))
    hold = asyncio.Event()

    async def occupy() -> None:
        async with gate.slot(0):
            await hold.wait()

    task = asyncio.create_task(occupy())
    await asyncio.sleep(0.01)

    with pytest.raises(SaturatedError):
        async with gate.slot(0):
            pass

    assert gate.queued == 0
    hold.set()
    await task
    assert gate.in_flight == 0


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    gate = AdmissionGate("gpu", Admission(max_in_flight=1, queue=5))
    hold = asyncio.Event()

    async def occupy() -> None:
        async with gate.slot(0):
            await hold.wait()

    holder = asyncio.create_task(occupy())
    await asyncio.sleep(0.01)
    waiter = asyncio.create_task(occupy())
    await asyncio.sleep(0.01)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    hold.set()
    await holder

    assert gate.in_flight == 0
    assert gate.queued == 0
