"""Records sent as one Kafka record batch per partition, not one ``send`` each.

aiokafka's ``send`` costs about 9 us a record on the event loop (a future per record,
the partitioner, an append to the partition's open batch); appending to a batch builder
and submitting the builder costs about 4 (the embedded broker, 20,000 records of 200
bytes, both with their acknowledgements). The worker sends a record per intent and per
changed table key, thousands a second, so each step collects its records here and sends
them together: one delivery future per batch instead of per record.

A keyed record without a partition goes where Kafka's default partitioner sends it
(murmur2 of the key over the topic's partitions), the partition ``send`` would pick.
Batches of one topic partition are submitted in order, and one :meth:`PartitionBatches.send`
runs at a time, so records keep their order per partition. Use one instance per writer
of a topic: records ``send`` appends to the same partition meanwhile may overtake them.

>>> import asyncio
>>> class Builder(list):
...     def append(self, key, value, timestamp):
...         super().append((key, value)); return object()
>>> class Producer:  # what PartitionBatches uses of aiokafka's AIOKafkaProducer
...     async def partitions_for(self, topic): return {0, 1, 2, 3}
...     def create_batch(self): return Builder()
...     async def send_batch(self, batch, topic, *, partition):
...         print(topic, partition, batch); return asyncio.get_running_loop().create_future()
>>> async def main():
...     out = PartitionBatches(lambda: Producer())
...     out.add("intents", b"u1", b"a"); out.add("intents", b"u2", b"b"); out.add("intents", b"u1", b"c")
...     return len(await out.send())
>>> asyncio.run(main())
intents 0 [(b'u1', b'a'), (b'u1', b'c')]
intents 2 [(b'u2', b'b')]
2
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from stream.processing.item_events import partition_for

__all__ = ["PartitionBatches"]


class PartitionBatches:
    """Records collected by :meth:`add`, sent per topic partition by :meth:`send`.

    ``producer`` returns the started aiokafka producer (Faust starts its own lazily)."""

    def __init__(self, producer: Callable[[], Any]) -> None:
        self.producer = producer
        self._records: dict[str, list[tuple[bytes | None, bytes, int | None]]] = {}
        self._sending = asyncio.Lock()
        self._next = itertools.count()  # spreads unkeyed records without a partition

    def __len__(self) -> int:
        return sum(len(records) for records in self._records.values())

    def add(self, topic: str, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        self._records.setdefault(topic, []).append((key, value, partition))

    async def send(self) -> list[asyncio.Future]:
        """Submit what was added; the futures settle when the broker has the batches."""
        async with self._sending:
            records, self._records = self._records, {}
            producer = self.producer()
            delivered: list[asyncio.Future] = []
            for topic, rows in records.items():
                n = len(await producer.partitions_for(topic))
                by_partition: dict[int, list[tuple[bytes | None, bytes]]] = {}
                for key, value, partition in rows:
                    if partition is None:
                        partition = partition_for(key, n) if key is not None else next(self._next) % n
                    by_partition.setdefault(partition, []).append((key, value))
                for partition in sorted(by_partition):
                    batch = producer.create_batch()
                    for key, value in by_partition[partition]:
                        if batch.append(key=key, value=value, timestamp=None) is None:  # full
                            delivered.append(await producer.send_batch(batch, topic, partition=partition))
                            batch = producer.create_batch()
                            if batch.append(key=key, value=value, timestamp=None) is None:
                                raise ValueError(f"a record of {len(value)} bytes does not fit a batch")
                    delivered.append(await producer.send_batch(batch, topic, partition=partition))
            return delivered
