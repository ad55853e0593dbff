"""The ``events-by-item`` message: one micro-batch's item activity for one partition.

The per-item popularity table (:class:`~stream.domain.state.ItemStats`) must be written by one
agent per item, so item activity is routed by item id with Kafka's default partitioner
(murmur2 of the id bytes). Instead of forwarding every event (one Kafka record per
event), the worker sends, per micro-batch, ONE record per partition holding every item
touched in the batch with its ``[ts, type index, price]`` triples (``[ts, type index,
price, brand]`` when the event names a brand), in event order. The
record carries no user id, so pseudonymisation has nothing to hide here.

>>> from stream.domain.events import Event
>>> batch = ItemActivity(partitions=4)
>>> batch.add(Event("e1", "u1", "i7", "view", 1000))
>>> batch.add(Event("e2", "u2", "i7", "addtocart", 2000, price=9.5))
>>> [(p, decode_item_activity(v)) for p, v in batch.messages()]
[(1, {'i7': [[1000, 0, None], [2000, 1, 9.5]]})]
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

from stream.domain.events import TYPE_INDEX, Event
from stream.domain.state import ItemStats

__all__ = ["ItemActivity", "decode_item_activity", "fold_item_activity", "partition_for"]

log = logging.getLogger(__name__)


@lru_cache(maxsize=65536)  # murmur2 is pure Python in aiokafka (about 3 us); ids repeat
def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (as aiokafka and Java)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class ItemActivity:
    """Item activity of one micro-batch, grouped by destination partition.
    ``partition_of`` is a cache of item id -> partition kept across batches (the
    processor's), so an item's partition is computed once, not once an event."""

    #: Cached items at most; past it the cache starts over.
    CACHE_ITEMS = 65_536

    def __init__(self, partitions: int, partition_of: dict[str, int] | None = None) -> None:
        self.partitions = partitions
        self.partition_of = {} if partition_of is None else partition_of
        self.by_partition: dict[int, dict[str, list[list[Any]]]] = {}

    def add(self, event: Event) -> None:
        item_id = event.item_id
        part = self.partition_of.get(item_id)
        if part is None:
            if len(self.partition_of) >= self.CACHE_ITEMS:
                self.partition_of.clear()
            part = self.partition_of[item_id] = partition_for(item_id.encode(), self.partitions)
        items = self.by_partition.get(part)
        if items is None:
            items = self.by_partition[part] = {}
        row: list[Any] = [event.ts, TYPE_INDEX[event.type], event.price]
        if event.brand is not None:
            row.append(event.brand)
        rows = items.get(item_id)
        if rows is None:
            items[item_id] = [row]
        else:
            rows.append(row)

    def messages(self) -> Iterator[tuple[int, bytes]]:
        """``(partition, value)`` for each partition that has activity."""
        for part in sorted(self.by_partition):
            yield part, orjson.dumps(self.by_partition[part])


def decode_item_activity(raw: bytes) -> dict[str, list[list[Any]]]:
    """``{item_id: [[ts, type index, price(, brand)], ...]}`` from an ``events-by-item``
    value: each row is the arguments of :meth:`~stream.domain.state.ItemStats.add`."""
    value = orjson.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("events-by-item value must be an object")
    return value


def fold_item_activity(values: Iterable[bytes], items: Mapping[str, ItemStats]) -> dict[str, ItemStats]:
    """The stats of every item the ``events-by-item`` records ``values`` touch, with their
    activity added to what ``items`` holds (to be written back). An unreadable record is
    skipped with a warning: our own workers wrote it, and it must never stop the agent."""
    touched: dict[str, ItemStats] = {}
    for value in values:
        try:
            activity = decode_item_activity(value)
        except ValueError:
            log.warning("unreadable events-by-item record skipped")
            continue
        for item_id, rows in activity.items():
            stats = touched.get(item_id) or items.get(item_id) or ItemStats()
            for row in rows:
                stats.add(*row)
            touched[item_id] = stats
    return touched
