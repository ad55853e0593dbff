"""End offsets read to the true end, and Faust's recovery waiting for them."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest

from stream.io.kafka import consumer, end_offsets, group_lag, producer, read_end_offsets
from tests.conftest import settings_for


async def _produce_batches(s, topic: str, batches: int, size: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=s.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 2, 1)])
    await admin.close()
    prod = producer(s)
    await prod.start()
    try:
        for _ in range(batches):  # each round leaves as one record batch a partition
            sent = [await prod.send(topic, b"v", key=b"k%d" % i, partition=0) for i in range(size)]
            await asyncio.gather(*sent)
    finally:
        await prod.stop()


@pytest.mark.integration
def test_end_offsets_are_read_past_the_last_batch(broker) -> None:
    from aiokafka import TopicPartition

    s = settings_for(broker)
    asyncio.run(_produce_batches(s, "batched", batches=3, size=20))
    tp0, tp1 = TopicPartition("batched", 0), TopicPartition("batched", 1)

    async def ends() -> tuple[dict, dict]:
        cons = consumer(s)
        await cons.start()
        try:
            return await cons.end_offsets([tp0, tp1]), await end_offsets(cons, [tp0, tp1])
        finally:
            await cons.stop()

    reported, read = asyncio.run(ends())
    assert read == {tp0: 60, tp1: 0}  # 60 records, the empty partition stays at 0
    assert reported[tp0] <= 60  # Tansu answers 41: one past the last batch's first offset
    assert asyncio.run(read_end_offsets(s, [tp0])) == {tp0: 60}
    assert asyncio.run(group_lag(s, "batched")) == 60  # nothing committed: every record


def test_recovery_waits_for_the_read_end_offsets() -> None:
    """Faust's recovery target is the read end (offset of the last record), not the
    broker's report, once the app says how to read it."""
    from faust.tables.recovery import Recovery
    from faust.types import TP

    from stream.runtime.faust_patches import AppHooks, apply_faust_patches, set_app_hooks

    apply_faust_patches()
    tp = TP("t-changelog", 0)
    reported = {tp: 41}

    async def highwaters(*tps):
        return {t: reported[t] for t in tps}

    async def read_ends(tps):
        return {t: 60 for t in tps}

    def recovery(app):
        return SimpleNamespace(app=app, log=logging.getLogger("test"), _highwater_logtable=lambda *a, **k: "")

    consumer_ = SimpleNamespace(highwaters=highwaters)
    destination: dict = {}
    app = SimpleNamespace()
    set_app_hooks(app, AppHooks(end_offsets=read_ends))
    asyncio.run(Recovery._build_highwaters(recovery(app), consumer_, {tp}, destination, "active"))
    assert destination == {tp: 59}
    plain: dict = {}  # an app that does not say how: the broker's answer, as Faust had it
    asyncio.run(Recovery._build_highwaters(recovery(SimpleNamespace()), consumer_, {tp}, plain, "active"))
    assert plain == {tp: 40}


def test_a_partition_never_committed_is_sought_to_the_start_after_a_rebalance() -> None:
    """aiokafka's seek_to_committed leaves such a partition where the fetcher left it
    (past records Faust dropped while its flow was stopped)."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
    from faust.types import TP

    from stream.runtime.faust_patches import apply_faust_patches

    apply_faust_patches()
    events0, events1, changelog = TP("events", 0), TP("events", 1), TP("users-changelog", 0)
    sought: list = []

    class Consumer:
        async def seek_to_committed(self):
            return {events0: 17, events1: None, changelog: None}

        async def seek_to_beginning(self, *tps):
            sought.extend(tps)

    async def call_thread(fun, *args):
        return await fun(*args)

    thread = SimpleNamespace(
        _ensure_consumer=Consumer,
        call_thread=call_thread,
        app=SimpleNamespace(
            tables=SimpleNamespace(changelog_topics={"users-changelog"}),
            conf=SimpleNamespace(consumer_auto_offset_reset="earliest"),
        ),
    )
    committed = asyncio.run(AIOKafkaConsumerThread.seek_to_committed(thread))
    assert committed[events0] == 17
    assert sought == [events1]  # not the committed one, not the changelog
