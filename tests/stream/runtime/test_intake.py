"""MessageBatches: what Faust's conductor delivers comes out in order, in batches, once."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.runtime.intake import MessageBatches


class Pending(list):
    """The consumer's pending messages (Faust's is a WeakSet)."""

    add = list.append


class FakeApp:
    def __init__(self) -> None:
        self.consumer_generation_id = 1
        self.tracked = Pending()
        self.ends: dict[str, int] = {}  # each partition's high watermark, as last fetched
        self.consumer = SimpleNamespace(_unacked_messages=self.tracked, highwater=self.ends.get)


class Message(SimpleNamespace):
    refcount = 0

    def incref(self) -> None:
        self.refcount += 1


def message(offset: int, generation: int = 1, tp: str = "events-0") -> Message:
    return Message(tp=tp, offset=offset, generation_id=generation, tracked=False)


@settings(max_examples=60, deadline=None)
@given(
    max_batch=st.integers(1, 9),
    backlog_batch=st.integers(0, 12),
    arrivals=st.lists(st.integers(0, 12), max_size=12),
)
def test_every_message_comes_out_once_in_order(
    max_batch: int, backlog_batch: int, arrivals: list[int]
) -> None:
    """Puts and takes interleaved any way: the batches concatenate to the puts."""
    app = FakeApp()

    async def run() -> list[list[int]]:
        batches = MessageBatches(app, max_batch=max_batch, linger_s=0.0, backlog_batch=backlog_batch)
        offset, out = 0, []
        for n in arrivals:
            for _ in range(n):
                batches.put_nowait_enhanced(message(offset))
                offset += 1
            if len(batches):
                out.append([m.offset for m in await batches.take()])
        while len(batches):
            out.append([m.offset for m in await batches.take()])
        return out

    out = asyncio.run(run())
    assert [o for batch in out for o in batch] == list(range(sum(arrivals)))
    assert all(1 <= len(batch) <= max(max_batch, backlog_batch) for batch in out)
    assert len(app.tracked) == sum(arrivals)  # each pending until acknowledged


async def test_a_lone_message_waits_the_linger_and_a_full_batch_does_not() -> None:
    batches = MessageBatches(FakeApp(), max_batch=3, linger_s=0.05)
    loop = asyncio.get_running_loop()
    batches.put_nowait_enhanced(message(0))
    started = loop.time()
    assert [m.offset for m in await batches.take()] == [0]
    assert loop.time() - started >= 0.04

    taking = asyncio.ensure_future(batches.take())
    await asyncio.sleep(0.001)
    for k in (1, 2, 3):
        batches.put_nowait_enhanced(message(k))
    assert [m.offset for m in await asyncio.wait_for(taking, 0.04)] == [1, 2, 3]


async def test_messages_buffered_while_busy_are_due_at_once() -> None:
    batches = MessageBatches(FakeApp(), max_batch=2, linger_s=10.0)
    for k in range(3):
        batches.put_nowait_enhanced(message(k))
    assert [m.offset for m in await batches.take()] == [0, 1]  # full
    assert [m.offset for m in await asyncio.wait_for(batches.take(), 1.0)] == [2]  # not 10 s


async def test_a_backlog_is_taken_in_bigger_batches() -> None:
    batches = MessageBatches(FakeApp(), max_batch=2, linger_s=10.0, backlog_batch=4)
    for k in range(7):
        batches.put_nowait_enhanced(message(k))
    assert [m.offset for m in await batches.take()] == [0, 1, 2, 3]  # 7 waiting: a backlog
    assert [m.offset for m in await batches.take()] == [4, 5, 6]  # 3 waiting: all of them


async def test_behind_on_the_broker_a_take_waits_for_a_backlog_batch() -> None:
    """Fewer than ``backlog_batch`` buffered, but the partitions' high watermarks say
    more wait past them: the take waits for a backlog batch rather than taking the few."""
    app = FakeApp()
    batches = MessageBatches(app, max_batch=2, linger_s=0.0, backlog_batch=6, backlog_linger_s=5.0)
    for k in range(3):
        batches.put_nowait_enhanced(message(k, tp="events-0"))
    batches.put_nowait_enhanced(message(0, tp="events-1"))
    app.ends.update({"events-0": 10, "events-1": 1})  # 4 buffered + 7 on the broker
    assert batches.waiting() == 11
    taking = asyncio.ensure_future(batches.take())
    await asyncio.sleep(0.01)
    assert not taking.done()  # 4 of 6: the fetch loop is still delivering
    batches.put_nowait_enhanced(message(3, tp="events-0"))
    batches.put_nowait_enhanced(message(4, tp="events-0"))
    batch = await asyncio.wait_for(taking, 1.0)  # as soon as 6 are in, not after 5 s
    assert [(m.tp, m.offset) for m in batch] == [
        ("events-0", 0),
        ("events-0", 1),
        ("events-0", 2),
        ("events-1", 0),
        ("events-0", 3),
        ("events-0", 4),
    ]


async def test_a_backlog_wait_ends_after_its_linger_with_what_came() -> None:
    app = FakeApp()
    batches = MessageBatches(app, max_batch=2, linger_s=0.0, backlog_batch=6, backlog_linger_s=0.05)
    for k in range(3):
        batches.put_nowait_enhanced(message(k))
    app.ends["events-0"] = 100  # the fetch loop then stalls
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert [m.offset for m in await batches.take()] == [0, 1, 2]  # all that came, not just 2
    assert loop.time() - started >= 0.04


async def test_behind_by_less_than_a_backlog_batch_a_take_takes_what_is_buffered() -> None:
    """Past ``max_batch`` but short of a backlog batch: all that is buffered, at once
    (waiting for the rest only delayed every event in the batch)."""
    app = FakeApp()
    batches = MessageBatches(app, max_batch=2, linger_s=5.0, backlog_batch=8, backlog_linger_s=5.0)
    for k in range(3):
        batches.put_nowait_enhanced(message(k))
    app.ends["events-0"] = 6  # 3 buffered, 3 more on the broker
    batch = await asyncio.wait_for(batches.take(), 1.0)
    assert [m.offset for m in batch] == [0, 1, 2]


async def test_caught_up_a_take_does_not_wait_for_a_backlog() -> None:
    app = FakeApp()
    batches = MessageBatches(app, max_batch=2, linger_s=0.0, backlog_batch=6, backlog_linger_s=5.0)
    batches.put_nowait_enhanced(message(0))
    app.ends["events-0"] = 1  # nothing past the buffer
    assert batches.waiting() == 1
    assert [m.offset for m in await asyncio.wait_for(batches.take(), 1.0)] == [0]  # not 5 s


async def test_a_full_buffer_holds_the_consumer_until_a_take() -> None:
    batches = MessageBatches(FakeApp(), max_batch=2, linger_s=0.0, maxsize=2)
    batches.put_nowait_enhanced(message(0))
    batches.put_nowait_enhanced(message(1))
    assert batches.full()
    putting = asyncio.ensure_future(batches.put(message(2)))
    await asyncio.sleep(0.01)
    assert not putting.done()
    assert [m.offset for m in await batches.take()] == [0, 1]
    await asyncio.wait_for(putting, 1.0)
    assert [m.offset for m in await batches.take()] == [2]


async def test_messages_from_before_a_rebalance_are_dropped() -> None:
    """Revoked partitions: what is buffered is dropped (Faust seeks back to the last
    commit, so the partition's owner reads it again), and a message fetched under an
    older generation is skipped as Faust's streams skip it."""
    app = FakeApp()
    batches = MessageBatches(app, max_batch=10, linger_s=0.0)
    batches.put_nowait_enhanced(message(0))
    assert batches.clear() == 1 and len(batches) == 0
    batches.put_nowait_enhanced(message(1, generation=1))
    app.consumer_generation_id = 2
    batches.put_nowait_enhanced(message(2, generation=2))
    assert [m.offset for m in await batches.take()] == [2]


def test_the_queue_faust_calls_is_what_the_conductor_expects() -> None:
    """Faust's compiled conductor calls ``full()`` and ``put_nowait_enhanced(value=...,
    on_pressure_high=..., on_pressure_drop=...)``, and ``put`` when full."""
    app = FakeApp()
    batches = MessageBatches(app, max_batch=10, linger_s=0.0)

    async def run() -> None:
        batches.put_nowait_enhanced(value=message(0), on_pressure_high=None, on_pressure_drop=None)
        await batches.put(message(1))

    asyncio.run(run())
    assert len(batches) == 2 and all(m.tracked for m in app.tracked)


def test_built_before_the_loop_that_uses_it() -> None:
    """create_worker builds it before Faust's event loop runs."""
    batches = MessageBatches(FakeApp(), max_batch=4, linger_s=0.0)

    async def run() -> list[int]:
        batches.put_nowait_enhanced(message(7))
        return [m.offset for m in await batches.take()]

    assert asyncio.run(run()) == [7]


async def test_the_consumer_callback_holds_a_reference_and_waits_when_full() -> None:
    """``deliver`` is what the consumer calls for each message of the topic's partitions:
    one reference each (given back by the acknowledgement), and a wait while full."""
    batches = MessageBatches(FakeApp(), max_batch=1, linger_s=0.0, maxsize=1)
    first, second = message(0), message(1)
    await batches.deliver(first)
    delivering = asyncio.ensure_future(batches.deliver(second))
    await asyncio.sleep(0.01)
    assert not delivering.done() and first.refcount == 1
    assert await batches.take() == [first]
    await asyncio.wait_for(delivering, 1.0)
    assert await batches.take() == [second] and second.refcount == 1


def test_acknowledge_does_the_bookkeeping_of_fausts_own_acks() -> None:
    """Against Faust's Message.ack -> ConsumerMessage.on_final_ack -> Consumer.ack, on
    two partitions, one of a topic without acks, one committed past its first offsets,
    a message still held elsewhere and an offset delivered twice."""
    from collections import defaultdict
    from weakref import WeakSet

    from faust.transport.consumer import Consumer as FaustConsumer
    from faust.types.tuples import TP, ConsumerMessage

    class Consumer:
        ack = FaustConsumer.ack  # the reference runs Faust's own

        def __init__(self) -> None:
            self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda t: t != "no-acks"))
            self._acked: Any = defaultdict(list)
            self._acked_index: Any = defaultdict(set)
            self._committed_offset: Any = defaultdict(lambda: None)
            self._committed_offset[TP("events", 1)] = 2
            self._unacked_messages: Any = WeakSet()
            self._n_acked = 0
            self._waiting_for_ack = None

    def messages(consumer: Consumer) -> list[Any]:
        out = []
        for topic, partition, offset, refs in [
            ("events", 0, 0, 1),
            ("events", 1, 1, 1),  # below the committed offset
            ("events", 0, 1, 2),  # held elsewhere too
            ("events", 1, 2, 1),
            ("no-acks", 0, 5, 1),
            ("events", 0, 2, 1),
            ("events", 0, 2, 1),  # delivered twice
            ("events", 1, 3, 1),
        ]:
            tp = TP(topic, partition)
            m = ConsumerMessage(topic, partition, offset, 0.0, 0, [], b"k", b"v", None, tp=tp)
            m.incref(refs)
            consumer._unacked_messages.add(m)
            out.append(m)
        return out

    def state(consumer: Consumer, batch: list[Any]) -> tuple[Any, ...]:
        return (
            dict(consumer._acked),
            dict(consumer._acked_index),
            consumer._n_acked,
            sorted((m.tp, m.offset) for m in consumer._unacked_messages),
            [(m.acked, m.refcount) for m in batch],
        )

    ours, theirs = Consumer(), Consumer()
    batch, reference = messages(ours), messages(theirs)
    MessageBatches.acknowledge(batch, ours)
    for m in reference:
        m.ack(theirs)
    assert state(ours, batch) == state(theirs, reference)
    assert ours._acked[TP("events", 0)] == [0, 2] and ours._n_acked == 4
    MessageBatches.acknowledge(batch, ours)  # the other holder lets go: now final, once
    for m in reference:
        m.ack(theirs)
    assert state(ours, batch) == state(theirs, reference)
    assert ours._acked[TP("events", 0)] == [0, 2, 1]
