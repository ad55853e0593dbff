"""The fetch loop's delivery: a callback that does not block runs in place; one that does
finishes under ``wait_first`` exactly as Faust ran it."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stream.faust_patches import _deliver


async def wait_first(aw: Any, *interrupts: Any) -> Any:
    calls.append(len(interrupts))
    return await aw


calls: list[int] = []


async def test_a_delivery_that_does_not_block_never_reaches_wait_first() -> None:
    calls.clear()
    seen = []

    async def deliver() -> None:
        seen.append(1)

    assert await _deliver(wait_first, deliver(), "suspend") is None
    assert seen == [1] and calls == []


async def test_a_blocked_delivery_resumes_where_it_stopped() -> None:
    calls.clear()
    gate = asyncio.Event()
    steps = []

    async def deliver() -> str:
        steps.append("before")
        await gate.wait()
        steps.append("after")
        return "done"

    task = asyncio.ensure_future(_deliver(wait_first, deliver(), "suspend"))
    await asyncio.sleep(0.01)
    assert steps == ["before"] and not task.done()
    gate.set()
    assert await task == "done"
    assert steps == ["before", "after"] and calls == [1]


async def test_errors_and_cancellation_reach_the_delivery() -> None:
    async def fails() -> None:
        await asyncio.sleep(0)
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await _deliver(wait_first, fails(), "suspend")

    cleaned = []

    async def blocks() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(True)

    task = asyncio.ensure_future(_deliver(wait_first, blocks(), "suspend"))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True]
