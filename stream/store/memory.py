"""The in-memory table store: encoded states in one dict per partition.

For tests, demos and small shops: nothing is kept across a restart, so a worker restores
its partitions from the changelogs each time it starts (at the rate ``intent bench
--state-scale`` measures). Values are the compact bytes of
:mod:`stream.domain.state_codec`, as the changelogs carry them, so a restore copies
records without decoding them.

It replaces Faust's memory store, which keeps one dict for every partition and, beside
it, a key -> partition dict for every key restored (memory a user), and cannot tell a
revoked partition's keys from the rest: a partition is a dict here, dropped whole when
the partition leaves the worker.

>>> from types import SimpleNamespace
>>> store = MemoryStateStore.__new__(MemoryStateStore)
>>> store.__post_init__()
>>> store.write(1, b"u1", b"state"); store.write(3, b"u2", b"other")
>>> store.read(1, b"u1"), store.read(3, b"u1"), sorted(store.data)
(b'state', None, [b'u1', b'u2'])
>>> msg = SimpleNamespace(partition=1, key=b"u1", value=None)  # a tombstone, restored
>>> store.apply_changelog_batch([SimpleNamespace(message=msg)], None, None)
>>> store.read(1, b"u1"), len(store.data)
(None, 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

from faust.stores import memory

from stream.processing.item_events import partition_for

__all__ = ["MemoryStateStore"]


class _AllPartitions(MutableMapping[bytes, bytes]):
    """Every partition's keys as one mapping: what Faust's table API reads (its size,
    its keys). Our writes name their partition; a key written here goes to the partition
    Kafka's default partitioner gives it, as the changelog's producer would."""

    def __init__(self, store: MemoryStateStore) -> None:
        self.store = store

    def __getitem__(self, key: bytes) -> bytes:
        for part in self.store.partitions.values():
            value = part.get(key)
            if value is not None:
                return value
        raise KeyError(key)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.store.write(partition_for(key, self.store.n_partitions), key, value)

    def __delitem__(self, key: bytes) -> None:
        for part in self.store.partitions.values():
            part.pop(key, None)

    def __iter__(self) -> Iterator[bytes]:
        for part in list(self.store.partitions.values()):
            yield from list(part)

    def __len__(self) -> int:
        return sum(len(part) for part in self.store.partitions.values())


class MemoryStateStore(memory.Store):
    """A Faust table store of bytes, one dict per changelog partition."""

    #: Writes are in the store at once; nothing waits for the changelog (see RocksStateStore).
    durable = False

    def __post_init__(self) -> None:
        self.partitions: dict[int, dict[bytes, bytes]] = {}
        self.data = _AllPartitions(self)
        self._key_partition = {}  # Faust's per-key index: unused here

    @property
    def n_partitions(self) -> int:
        return int(self.table.partitions or self.app.conf.topic_partitions)

    # -- what the worker's tables use -------------------------------------------------
    def find(self, key: bytes) -> tuple[int, bytes | None]:
        """``(partition, value)`` of ``key``, looked for in every partition held (a few
        dict lookups: cheaper than hashing the key to its partition); ``(-1, None)``."""
        for partition, part in self.partitions.items():
            value = part.get(key)
            if value is not None:
                return partition, value
        return -1, None

    def read(self, partition: int, key: bytes) -> bytes | None:
        part = self.partitions.get(partition)
        return None if part is None else part.get(key)

    def write(self, partition: int, key: bytes, value: bytes | None) -> None:
        """Write ``value`` (None: delete) under ``key`` in ``partition``."""
        if value is None:
            part = self.partitions.get(partition)
            if part is not None:
                part.pop(key, None)
            return
        part = self.partitions.get(partition)
        if part is None:
            part = self.partitions[partition] = {}
        part[key] = value

    def commit(self, partition: int, records: Iterable[tuple[bytes, bytes | None]], offset: int) -> None:
        """Nothing to do: the writes are in the store already."""

    def scan(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """One partition's keys (as they were when the scan began) and their values now."""
        part = self.partitions.get(partition, {})
        for key in list(part):
            value = part.get(key)
            if value is not None:
                yield key, value

    def owned_partitions(self) -> list[int]:
        return list(self.partitions)

    def size(self) -> int:
        return sum(len(part) for part in self.partitions.values())

    # -- what Faust calls --------------------------------------------------------------
    def apply_changelog_batch(self, batch: Iterable[Any], to_key: Any, to_value: Any) -> None:
        """Restore: the records' bytes, as they are (the table's serializers are raw)."""
        parts = self.partitions
        for event in batch:
            msg = event.message
            part = parts.get(msg.partition)
            if part is None:
                part = parts[msg.partition] = {}
            if msg.value is None:
                part.pop(msg.key, None)
            else:
                part[msg.key] = msg.value

    async def on_recovery_completed(self, active_tps: Any, standby_tps: Any) -> None:
        """Drop the partitions that are no longer this worker's (a global table keeps all)."""
        if self.table.is_global:
            return
        topic = self.table.changelog_topic.get_topic_name()
        kept = {tp.partition for tp in (*active_tps, *standby_tps) if tp.topic == topic}
        for partition in [p for p in self.partitions if p not in kept]:
            del self.partitions[partition]

    def _clear(self) -> None:
        self.partitions.clear()
