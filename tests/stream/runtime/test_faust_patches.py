"""The fetch loop's delivery: a callback that does not block runs in place; one that does
finishes under ``wait_first`` exactly as Faust ran it. And the commit after a gap: offsets
both in a gap and acknowledged are committed in one step."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stream.runtime.faust_patches import _deliver


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


def consumer_state(committed: int, acked: range, gap: tuple[int, int] | None = None) -> Any:
    """The part of a Faust consumer that ``_new_offset`` reads, for one partition."""
    from collections import defaultdict
    from types import SimpleNamespace

    from intervaltree import IntervalTree

    state = SimpleNamespace(
        _acked=defaultdict(list),
        _acked_index=defaultdict(set),
        _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None),
    )
    state._committed_offset["tp"] = committed
    state._acked["tp"].extend(acked)
    state._acked_index["tp"].update(acked)
    if gap:
        state._gap["tp"].addi(*gap)
    return state


def new_offset(state: Any) -> Any:
    from faust.transport.consumer import Consumer

    from stream.runtime.faust_patches import apply_faust_patches

    apply_faust_patches()
    return Consumer._new_offset(state, "tp")


def test_a_gap_over_acknowledged_offsets_commits_them_in_one_step() -> None:
    # what a seek in the middle of a fetched batch leaves: offsets 169-416 recorded as a
    # gap, and also delivered and acknowledged (Faust alone committed one a call here)
    state = consumer_state(168, range(168, 619), gap=(169, 417))
    assert new_offset(state) == 619
    assert state._acked["tp"] == [] and not state._gap["tp"]


def test_a_gap_still_fills_offsets_never_delivered() -> None:
    # a real gap (e.g. a transaction marker) is committed past, as Faust does
    state = consumer_state(10, [*range(10, 20), *range(25, 30)], gap=(20, 25))
    assert new_offset(state) == 30


def test_an_offset_acknowledged_after_its_gap_was_merged_is_not_counted_twice() -> None:
    state = consumer_state(10, range(12, 20), gap=(14, 17))
    assert new_offset(state) is None  # 10 and 11 are not acknowledged yet
    state._acked["tp"].extend([10, 11, 15])  # 15 was in the gap, and now arrives too
    assert new_offset(state) == 20


def test_without_a_gap_the_first_consecutive_run_is_committed() -> None:
    state = consumer_state(5, [5, 6, 7, 9])
    assert new_offset(state) == 8 and state._acked["tp"] == [9]
