"""Kafka plumbing shared by the command-line tools: clients, topic creation, reachability."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from stream.config import Settings
from stream.processing.source_log import BEYOND, GONE  # what read_at finds where no message is

__all__ = [
    "producer",
    "consumer",
    "ensure_topics",
    "KafkaUnreachable",
    "check_reachable",
    "end_offsets",
    "read_end_offsets",
    "read_at",
    "topic_partitions",
    "check_partitions",
    "PartitionMismatch",
    "GONE",
    "BEYOND",
]


class KafkaUnreachable(RuntimeError):
    """No broker answered at the bootstrap address."""


def producer(settings: Settings, **kw: Any) -> AIOKafkaProducer:
    opts = dict(
        bootstrap_servers=settings.bootstrap,
        linger_ms=5,
        acks="all",
        request_timeout_ms=15000,
        **settings.kafka_security(),
    )
    opts.update(kw)
    return AIOKafkaProducer(**opts)


def consumer(settings: Settings, *topics: str, **kw: Any) -> AIOKafkaConsumer:
    opts = dict(
        bootstrap_servers=settings.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        max_partition_fetch_bytes=settings.fetch_max_bytes,
        **settings.kafka_security(),
    )
    opts.update(kw)
    return AIOKafkaConsumer(*topics, **opts)


async def check_reachable(settings: Settings, timeout: float = 5.0) -> None:
    """Raise :class:`KafkaUnreachable` with a one-line reason if no broker answers."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap,
        request_timeout_ms=int(timeout * 1000),
        **settings.kafka_security(),
    )
    try:
        await asyncio.wait_for(admin.start(), timeout)
    except (TimeoutError, KafkaError, OSError) as exc:
        raise KafkaUnreachable(f"cannot reach Kafka at {settings.bootstrap}: {type(exc).__name__}") from None
    finally:
        try:
            await admin.close()
        except Exception:
            pass


async def ensure_topics(settings: Settings) -> None:
    """Create our topics with the configured partitions where they do not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, **settings.kafka_security())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [name for name in settings.topics.names() if name not in existing]
        if wanted:
            await admin.create_topics(
                [NewTopic(name, settings.partitions, settings.replication) for name in wanted]
            )
    finally:
        await admin.close()


async def end_offsets(cons: AIOKafkaConsumer, tps: Iterable[Any], wait_s: float = 0.2) -> dict[Any, int]:
    """One past the last record of each partition in ``tps``, checked by reading.

    The embedded broker (Tansu) answers a ListOffsets(latest) request with one past the
    *first* offset of a partition's last record batch: 20 records produced as one batch
    at offsets 40..59 give 41, not 60. Faust takes that answer as the point where a
    table's recovery is complete, so a worker restarted on Tansu served users whose
    last changelog batch it had not yet applied. Here the answer is checked by reading
    each partition from its reported last record on; on Apache Kafka that read returns
    the one record and the answer stands. ``cons`` is a started consumer outside any
    group; its assignment is replaced. Keys are returned as given.
    """
    from aiokafka import TopicPartition

    given = {TopicPartition(tp.topic, tp.partition): tp for tp in tps}
    reported = await cons.end_offsets(list(given))
    ends = {tp: int(reported[tp]) for tp in given}
    probe = [tp for tp, end in ends.items() if end > 0]
    if probe:
        cons.assign(probe)
        for tp in probe:
            cons.seek(tp, ends[tp] - 1)
        # A fetch returns whole record batches, so one read a partition finds its end (a
        # live partition would otherwise keep this reading for as long as it is written).
        pending = set(probe)
        while pending and (batch := await cons.getmany(*pending, timeout_ms=int(wait_s * 1000))):
            for tp, records in batch.items():
                ends[tp] = max(ends[tp], records[-1].offset + 1)
                pending.discard(tp)
    return {given[tp]: end for tp, end in ends.items()}


async def read_end_offsets(settings: Settings, tps: Iterable[Any]) -> dict[Any, int]:
    """:func:`end_offsets` through a consumer of its own."""
    cons = consumer(settings, fetch_max_wait_ms=min(settings.fetch_max_wait_ms, 50))
    await cons.start()
    try:
        return await end_offsets(cons, tps)
    finally:
        await cons.stop()


async def group_lag(settings: Settings, topic: str, group: str | None = None) -> int:
    """Messages of ``topic`` not yet committed by the consumer group (all of them if none)."""
    from aiokafka import TopicPartition

    group = group or settings.app_id
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, **settings.kafka_security())
    cons = consumer(settings)
    await admin.start()
    await cons.start()
    try:
        parts = cons.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        if not tps:
            return 0
        ends = await end_offsets(cons, tps)
        try:
            committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        except KafkaError:
            committed = {}
        lag = 0
        for tp in tps:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag += max(ends[tp] - done, 0)
        return lag
    finally:
        await cons.stop()
        await admin.close()


async def read_topic(settings: Settings, topic: str, timeout_s: float = 30.0) -> list[Any]:
    """Every record of ``topic`` from the beginning to its current end, partition by
    partition in offset order; :class:`TimeoutError` if the end is not reached in time."""
    from aiokafka import TopicPartition

    cons = consumer(settings)
    await cons.start()
    out: list[Any] = []
    try:
        parts = cons.partitions_for_topic(topic)
        if not parts:
            await cons.topics()  # a consumer without subscriptions may not know the topic yet
            parts = cons.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return out
        cons.assign(tps)
        await cons.seek_to_beginning(*tps)
        ends = await cons.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while remaining and loop.time() < deadline:
            for tp, records in (await cons.getmany(timeout_ms=300)).items():
                out.extend(records)
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        if remaining:
            raise TimeoutError(f"{topic} not read to its end within {timeout_s}s")
    finally:
        await cons.stop()
    return out


async def broker_reachable(bootstrap: str, timeout: float = 0.5) -> bool:
    """True if any bootstrap server accepts a TCP connection."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        except (TimeoutError, OSError, ValueError):
            continue
        writer.close()
        return True
    return False


async def read_at(
    settings: Settings, topic: str, offsets: dict[int, int], timeout_s: float = 5.0
) -> dict[int, tuple[bytes | None, bytes | None] | str]:
    """The message of ``topic`` at each ``{partition: offset}``: ``(key, value)``, or
    :data:`GONE` (before the partition's first offset) or :data:`BEYOND` (at or past its
    end, by reading: see :func:`end_offsets`)."""
    from aiokafka import TopicPartition

    cons = consumer(settings, fetch_max_wait_ms=min(settings.fetch_max_wait_ms, 50))
    await cons.start()
    try:
        tps = {p: TopicPartition(topic, p) for p in offsets}
        first = await cons.beginning_offsets(list(tps.values()))
        ends = await end_offsets(cons, list(tps.values()))
        found: dict[int, tuple[bytes | None, bytes | None] | str] = {}
        wanted = {}
        for p, offset in offsets.items():
            tp = tps[p]
            if offset >= ends[tp]:
                found[p] = BEYOND
            elif offset < first[tp]:
                found[p] = GONE
            else:
                wanted[tp] = offset
        if wanted:
            cons.assign(list(wanted))
            for tp, offset in wanted.items():
                cons.seek(tp, offset)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while wanted and loop.time() < deadline:
                for tp, records in (await cons.getmany(*wanted, timeout_ms=200)).items():
                    for rec in records:
                        if rec.offset == wanted.get(tp):
                            found[tp.partition] = (rec.key, rec.value)
                            del wanted[tp]
                            break
                        if rec.offset > wanted.get(tp, rec.offset):  # compacted away
                            found[tp.partition] = GONE
                            del wanted[tp]
                            break
            if wanted:
                raise TimeoutError(f"{topic}: no answer at {dict(wanted)} within {timeout_s}s")
        return found
    finally:
        await cons.stop()


async def topic_partitions(settings: Settings, topic: str, timeout_s: float = 10.0) -> int | None:
    """How many partitions ``topic`` has; None when it does not exist."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap,
        request_timeout_ms=int(timeout_s * 1000),
        **settings.kafka_security(),
    )
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        if topic not in set(await admin.list_topics()):  # describing may create it
            return None
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for t in described:
        name = t.get("topic") if isinstance(t, dict) else getattr(t, "topic", None)
        if name == topic:
            if (t.get("error_code") if isinstance(t, dict) else 0) not in (0, None):
                return None
            return len(t.get("partitions") or []) or None
    return None


class PartitionMismatch(ValueError):
    """A topic of ours has another partition count than ``INTENT_PARTITIONS``."""


async def check_partitions(settings: Settings) -> None:
    """Refuse, in one line, a topic of ours or a table changelog whose partition count is
    not ``INTENT_PARTITIONS``: the tables are partitioned like ``events`` (a user's
    changelog partition is their events partition), so another count would put users'
    state where no worker reads it. Topics that do not exist yet are created later."""
    from stream.config import TABLES

    names = [*settings.topics.names()]
    names += [settings.changelog_topic(t) for t in TABLES]
    for name in names:
        n = await topic_partitions(settings, name)
        if n is not None and n != settings.partitions:
            raise PartitionMismatch(
                f"topic {name!r} has {n} partitions but INTENT_PARTITIONS is {settings.partitions}: "
                f"start the worker with INTENT_PARTITIONS={n} (or recreate the topic with "
                f"{settings.partitions}); the tables are partitioned like the events topic"
            )
