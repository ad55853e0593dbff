"""The worker's tables, and the delivery of what a batch wrote.

* :class:`WorkerTables`: the tables the worker reads and writes, each a
  :class:`~stream.store.table.StateTable` over our Faust store
  (:mod:`stream.store`). The worker sends their changelogs itself: one record per key
  changed since the last flush, straight to the producer (Faust's own write path, its
  changelog buffer, sensors and futures, cost about 60 us a record on the event loop).
  The records are bytes Faust's recovery reads back as they are (raw serializers, the
  murmur2 partition of the key).
* :class:`Deliveries` collects every record a batch sent, so the batch is acknowledged
  only once all of them are on the broker.
* :class:`Commits` hands a durable store (RocksDB) the records a flush sent once they are
  on the broker, in flush order, with the changelog offsets they reached.
* :class:`ChangelogWriter` does a flush: every table's changed keys, sent as one record
  batch per changelog partition.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from stream.runtime.publisher import PartitionBatches
from stream.store.table import StateTable

__all__ = ["Deliveries", "WorkerTables", "Commits", "ChangelogWriter"]


class Deliveries:
    """Every record a batch sent (table changelogs and outputs), awaited before the
    batch is acknowledged.

    Faust sends table changes with ``send_soon`` (a buffer drained by a background task)
    and, before committing offsets, flushes that buffer, but its flush gives up after
    100 ms without progress. Under load that let offsets be committed ahead of their
    changelog records: a SIGKILLed worker then lost the state of events it had committed
    (seen in CI). The agents therefore await each record's delivery, changelog and
    intent alike, before the batch's events are acknowledged: that is what makes the
    tables and the outputs at-least-once.
    """

    def __init__(self) -> None:
        self.pending: list[Awaitable[Any]] = []

    def add(self, delivery: Awaitable[Any]) -> None:
        self.pending.append(delivery)

    async def wait(self) -> None:
        """Until every record sent so far is acknowledged by the broker."""
        while self.pending:
            pending, self.pending = self.pending, []
            await asyncio.gather(*pending)


@dataclass(frozen=True)
class WorkerTables:
    """The worker's tables (see :mod:`stream.runtime.app`)."""

    users: StateTable
    items: StateTable
    gates: StateTable
    #: the events partitions' source logs (see stream.processing.source_log)
    sources: StateTable
    #: (changelog topic, table) for every table: the worker sends their changelogs
    batched: list[tuple[str, StateTable]] = field(default_factory=list)
    #: the challenger's gates (see stream.processing.role_gates), partitioned like gates
    challenger_gates: StateTable | None = None


class Commits:
    """What a flush sent to a durable store's changelogs, written to the store once on the
    broker (:meth:`add`), one flush after the other.

    A flush's records are ``(table, partition, key, value)``; ``delivered`` its batches'
    futures, which give each changelog partition's offset (the first record of the
    batch: a restore from there reads a few records again, harmlessly)."""

    def __init__(self) -> None:
        self._last: asyncio.Future[None] | None = None

    def add(self, records: list[tuple[StateTable, int, bytes, bytes | None]], delivered: list[Any]) -> None:
        if records:
            self._last = asyncio.ensure_future(self._commit(records, delivered, self._last))

    async def _commit(
        self,
        records: list[tuple[StateTable, int, bytes, bytes | None]],
        delivered: list[Any],
        previous: asyncio.Future[None] | None,
    ) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        offsets: dict[tuple[str, int], int] = {}
        for meta in await asyncio.gather(*delivered):
            key = (meta.topic, meta.partition)
            offsets[key] = max(offsets.get(key, -1), meta.offset)
        by_store: dict[tuple[int, int], tuple[StateTable, list[tuple[bytes, bytes | None]]]] = {}
        for table, partition, key, value in records:
            by_store.setdefault((id(table), partition), (table, []))[1].append((key, value))
        for (_, partition), (table, rows) in by_store.items():
            offset = offsets.get((table.changelog, partition))
            if offset is not None:
                table.store.commit(partition, rows, offset)

    async def wait(self) -> None:
        if self._last is not None:
            await self._last


class ChangelogWriter:
    """Sends the changelog records of every key the worker's tables changed since the last
    flush (one flush at a time: a key's newer record must not overtake its older one);
    each record joins ``deliveries``, and a durable store gets its records once they are
    on the broker (:class:`Commits`)."""

    def __init__(self, tables: WorkerTables, producer: Any, deliveries: Deliveries) -> None:
        self.tables = tables
        self.deliveries = deliveries
        self.batches = PartitionBatches(producer)
        self.commits = Commits()
        self._flushing = asyncio.Lock()

    async def flush(self) -> None:
        async with self._flushing:
            durable: list[tuple[StateTable, int, bytes, bytes | None]] = []
            for topic, table in self.tables.batched:
                records = table.take_dirty()
                for partition, key, value in records:
                    self.batches.add(topic, key, value, partition)  # type: ignore[arg-type]
                if records and table.store.durable:
                    durable.extend((table, partition, key, value) for partition, key, value in records)
            delivered = await self.batches.send()
            for delivery in delivered:
                self.deliveries.add(delivery)
            self.commits.add(durable, delivered)
