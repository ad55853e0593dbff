"""Kafka plumbing shared by the command-line tools: clients, topic creation, reachability."""
from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from stream.config import Settings

__all__ = ["producer", "consumer", "ensure_topics", "KafkaUnreachable", "check_reachable"]


class KafkaUnreachable(RuntimeError):
    """No broker answered at the bootstrap address."""


def producer(settings: Settings, **kw: Any) -> AIOKafkaProducer:
    opts = dict(bootstrap_servers=settings.bootstrap, linger_ms=5, acks="all",
                request_timeout_ms=15000, **settings.kafka_security())
    opts.update(kw)
    return AIOKafkaProducer(**opts)


def consumer(settings: Settings, *topics: str, **kw: Any) -> AIOKafkaConsumer:
    opts = dict(bootstrap_servers=settings.bootstrap, auto_offset_reset="earliest",
                enable_auto_commit=False, fetch_max_wait_ms=settings.fetch_max_wait_ms,
                **settings.kafka_security())
    opts.update(kw)
    return AIOKafkaConsumer(*topics, **opts)


async def check_reachable(settings: Settings, timeout: float = 5.0) -> None:
    """Raise :class:`KafkaUnreachable` with a one-line reason if no broker answers."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, request_timeout_ms=int(timeout * 1000),
                                **settings.kafka_security())
    try:
        await asyncio.wait_for(admin.start(), timeout)
    except (KafkaError, OSError, asyncio.TimeoutError) as exc:
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
            await admin.create_topics([
                NewTopic(name, settings.partitions, settings.replication) for name in wanted
            ])
    finally:
        await admin.close()


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
        ends = await cons.end_offsets(tps)
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
