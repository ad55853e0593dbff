"""A table as the worker's processor sees it: ``str`` keys and state objects, over a store of
bytes (:class:`~stream.store.memory.MemoryStateStore` or
:class:`~stream.store.rocksdb.RocksStateStore`).

* A read decodes the stored bytes (:mod:`stream.domain.state_codec`), unless the
  object decoded or written last for that key is still current: a bounded cache keeps
  the states the latest batches touched, checked against the stored bytes on every read
  (a restore or another worker's changelog record replaces the bytes, and then the
  cache's object is not used).
* A write encodes the object at once (the processor writes a state once a batch) and
  remembers the record for the changelog, which the worker sends per batch
  (:meth:`StateTable.take_dirty`): one record a key changed, however often it changed.

>>> from stream.store.memory import MemoryStateStore
>>> store = MemoryStateStore.__new__(MemoryStateStore); store.__post_init__()
>>> users = StateTable(store, encode=str.encode, decode=bytes.decode, partitions=4)
>>> users["u1"] = "a"; users["u1"] = "b"; users["u2"] = "c"
>>> users.get("u1"), len(users), sorted(users)
('b', 2, ['u1', 'u2'])
>>> sorted(users.take_dirty())
[(0, b'u1', b'b'), (2, b'u2', b'c')]
>>> del users["u2"]
>>> users.take_dirty(), users.get("u2")
([(2, b'u2', None)], None)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Protocol

from stream.processing.item_events import partition_for

__all__ = ["StateTable", "StateStore"]


class StateStore(Protocol):
    """What a table view needs of a store: bytes by partition and key."""

    durable: bool

    def find(self, key: bytes) -> tuple[int, bytes | None]: ...

    def read(self, partition: int, key: bytes) -> bytes | None: ...

    def write(self, partition: int, key: bytes, value: bytes | None) -> None: ...

    def commit(self, partition: int, records: Any, offset: int) -> None: ...

    def scan(self, partition: int) -> Iterator[tuple[bytes, bytes]]: ...

    def owned_partitions(self) -> list[int]: ...

    def size(self) -> int: ...


class StateTable(MutableMapping[str, Any]):
    """A table of state objects by ``str`` key, stored as bytes; see the module docstring.

    ``partitions``: the changelog's partition count (a key's partition is the one Kafka's
    default partitioner gives its UTF-8 bytes, as for the ``events`` topic), unless
    ``partition_of`` says otherwise. ``cache_size``: decoded objects kept (0: none).
    ``changelog``: the name of the table's changelog topic.
    """

    def __init__(
        self,
        store: StateStore,
        encode: Callable[[Any], bytes],
        decode: Callable[[bytes], Any],
        partitions: int,
        cache_size: int = 0,
        partition_of: Callable[[bytes], int] | None = None,
        changelog: str = "",
    ) -> None:
        self.store = store
        self.changelog = changelog  # the changelog topic's name
        self.encode, self.decode = encode, decode
        self.partitions = partitions
        self._fixed = partition_of is not None  # keys placed by the caller's rule
        self.partition_of = partition_of or (lambda key: partition_for(key, partitions))
        self.cache_size = cache_size
        self._cache: dict[bytes, tuple[bytes, Any, int]] = {}  # key -> (bytes, object, partition)
        self.dirty: dict[bytes, tuple[int, bytes | None]] = {}

    def get(self, key: str, default: Any = None) -> Any:
        k = key.encode()
        if self._fixed:
            partition = self.partition_of(k)
            raw = self.store.read(partition, k)
        else:
            partition, raw = self.store.find(k)
        if raw is None:
            return default
        hit = self._cache.get(k)
        if hit is not None and (hit[0] is raw or hit[0] == raw):
            return hit[1]
        value = self.decode(raw)
        self._remember(k, raw, value, partition)
        return value

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        k = key.encode()
        raw = self.encode(value)
        hit = self._cache.get(k)  # a state written is one just read: its partition is known
        partition = hit[2] if hit is not None else self.partition_of(k)
        self.store.write(partition, k, raw)
        self.dirty[k] = (partition, raw)
        self._remember(k, raw, value, partition)

    def __delitem__(self, key: str) -> None:
        self.delete_raw(key.encode())

    def delete_raw(self, k: bytes, partition: int | None = None) -> None:
        """Remove ``k`` (its changelog gets a tombstone); nothing happens if it is absent."""
        partition = self.partition_of(k) if partition is None else partition
        self.store.write(partition, k, None)
        self.dirty[k] = (partition, None)
        self._cache.pop(k, None)

    def _remember(self, k: bytes, raw: bytes, value: Any, partition: int) -> None:
        if not self.cache_size:
            return
        cache = self._cache
        cache.pop(k, None)  # to the end: the latest are the last evicted
        cache[k] = (raw, value, partition)
        if len(cache) > self.cache_size:
            del cache[next(iter(cache))]

    def forget_cached(self) -> None:
        """Drop the decoded objects (a rebalance restores and revokes under them)."""
        self._cache.clear()

    def take_dirty(self) -> list[tuple[int, bytes, bytes | None]]:
        """``(partition, key, changelog value)`` of every key changed since the last call."""
        dirty, self.dirty = self.dirty, {}
        return [(partition, k, raw) for k, (partition, raw) in dirty.items()]

    def raw_items(self) -> Iterator[tuple[int, bytes, bytes]]:
        """``(partition, key, stored bytes)`` of every key of the partitions held here."""
        for partition in self.store.owned_partitions():
            for k, raw in self.store.scan(partition):
                yield partition, k, raw

    def __iter__(self) -> Iterator[str]:
        return (k.decode() for _, k, _ in self.raw_items())

    def __len__(self) -> int:
        """Keys held (RocksDB: its estimate; it is cheap, and exact after a compaction)."""
        return self.store.size()


_ABSENT = object()
