"""State that ends: a churning population levels off under the retention, a removed user who
comes back starts cold, and removals reach the changelog as tombstones. Also: the events
partitions' source logs, checked when the worker takes them."""

from __future__ import annotations

import orjson

from stream.config import Settings
from stream.domain.events import Event, encode_event
from stream.domain.features import FeatureSpec
from stream.domain.state_codec import decode_item, decode_user, encode_item, encode_user
from stream.monitoring.metrics import WorkerMetrics
from stream.processing.processor import EventProcessor, ProcessorConfig, RawMessage, ServingModel
from stream.processing.source_log import SourceLog, SourceLogs
from stream.runtime.rebalance import RebalanceBarrier
from stream.runtime.state_upkeep import StateUpkeep, source_key
from stream.runtime.tables import WorkerTables
from stream.store.memory import MemoryStateStore
from stream.store.table import StateTable
from tests.stream.processing.test_processor import POLICY, FixedScorer, Recorder

DAY = 86_400_000
T0 = 1_700_000_000_000


def table(encode, decode, **kw) -> StateTable:
    store = MemoryStateStore.__new__(MemoryStateStore)
    store.__post_init__()
    return StateTable(store, encode, decode, partitions=4, **kw)


def worker_state(ttl_days: float = 30) -> tuple[WorkerTables, StateUpkeep, EventProcessor]:
    sources = SourceLogs()
    tables = WorkerTables(
        table(encode_user, decode_user, cache_size=64),
        table(encode_item, decode_item),
        table(orjson.dumps, orjson.loads),
        table(SourceLog.encode, SourceLog.decode, partition_of=lambda k: int(k.rpartition(b"/")[2])),
    )
    tables.batched.extend(
        (name, t) for name, t in zip("uigs", (tables.users, tables.items, tables.gates, tables.sources))
    )
    metrics = WorkerMetrics()

    async def flush() -> None:
        return None

    upkeep = StateUpkeep(
        Settings(state_ttl_days=ttl_days), tables, metrics, RebalanceBarrier(1.0), sources, flush
    )
    upkeep.events_partitions = upkeep.item_partitions = {0, 1, 2, 3}
    proc = EventProcessor(
        tables.users,
        tables.items,
        tables.gates,
        ServingModel(FixedScorer(0.1), None, FeatureSpec(), POLICY),
        Recorder().sinks(),
        metrics,
        ProcessorConfig(max_candidates=8),
        sources,
    )
    return tables, upkeep, proc


def day_of_events(day: int, users: range) -> list[RawMessage]:
    out = []
    for u in users:
        for k in range(3):
            e = Event(f"d{day}u{u}e{k}", f"u{u}", f"i{(u + k) % 50}", "view", T0 + day * DAY + u * 1000 + k)
            out.append(RawMessage(e.user_id.encode(), encode_event(e), (e.ts + 5) / 1000))
    return out


async def test_a_churning_population_levels_off_and_a_returning_user_starts_cold() -> None:
    tables, upkeep, proc = worker_state(ttl_days=30)
    sizes, tombstones = [], 0
    for day in range(120):
        # 40 new users a day, each active for 5 days, then quiet for good
        active = range(max(0, day - 4) * 40, (day + 1) * 40)
        await proc.process_batch(day_of_events(day, active))
        if day % 7 == 6:
            removed = await upkeep.sweep(proc.watermark)
            tombstones += sum(raw is None for _, _, raw in tables.users.take_dirty())
            assert removed["users"] >= 0
        sizes.append(len(tables.users))
    # users ever seen: 4,800; held: those seen within the last 30 days (+ a week of sweep lag)
    assert sizes[-1] <= 40 * (30 + 5 + 7) and abs(sizes[-1] - sizes[70]) <= 40 * 7
    assert tombstones == 120 * 40 - sizes[-1]  # every user removed has its tombstone
    assert len(tables.items) <= 50  # items touched recently stay; none is lost while in use
    # user 0 was removed long ago; it comes back as a new, cold user
    assert tables.users.get("u0") is None
    back = Event("back", "u0", "i1", "addtocart", proc.watermark + 1000)
    result = await proc.process_batch([RawMessage(b"u0", encode_event(back), back.ts / 1000)])
    assert result.processed == 1 and result.dlq == 0
    assert tables.users.get("u0").n_events == 1


async def test_the_sweep_spares_a_user_written_since_it_was_found() -> None:
    tables, upkeep, proc = worker_state(ttl_days=1)
    await proc.process_batch(day_of_events(0, range(5)))
    await proc.process_batch(day_of_events(10, range(5, 6)))  # the watermark moves on
    old = next(iter(proc.users))
    # between the scan and the removal, a batch brings the user back
    from stream.store.expiry import expired

    chunks = list(expired(tables.users, [0, 1, 2, 3], proc.watermark - 1 * DAY))
    await proc.process_batch(day_of_events(10, range(int(old[1:]), int(old[1:]) + 1)))
    n = upkeep._remove("users", tables.users, [pk for c in chunks for pk in c], proc.watermark - DAY)
    assert n == 4 and tables.users.get(old) is not None


async def test_a_recreated_events_partition_starts_a_new_epoch(monkeypatch) -> None:
    from stream.processing import source_log
    from stream.runtime import state_upkeep

    tables, upkeep, proc = worker_state()
    upkeep.events_partitions = {0, 1}
    tables.sources[source_key(0)] = SourceLog(2, 500, source_log.message_digest(b"k", b"v"))
    tables.sources[source_key(1)] = SourceLog(0, 70, source_log.message_digest(b"k", b"v"))

    async def read_at(settings, topic, offsets):
        # partition 0 holds the same message at its anchor; partition 1 is shorter now
        return {0: (b"k", b"v"), 1: source_log.BEYOND}

    monkeypatch.setattr(state_upkeep, "read_at", read_at)
    await upkeep.check_sources()
    assert proc.sources.epochs == {0: 2, 1: 1}
    assert tables.sources.get(source_key(1)).epoch == 1
