"""The worker's view of its Faust tables, and the delivery of what a batch wrote.

* :class:`StrKeyed` is a Faust table seen through ``str`` keys (the ids' UTF-8 bytes are
  what it stores); every write goes through Faust, one changelog record per write.
* :class:`BatchedTable` reads and writes the table's in-memory store directly and
  sends the changelog itself: one record per key changed since the last
  :meth:`~BatchedTable.flush`, straight to the producer. Faust's own write path (its
  changelog buffer, sensors and futures) cost about 60 us a record on the event loop,
  and a batch of generated traffic writes two records per user (state and gate).
  The records are the bytes Faust writes (the table's codec, murmur2 partition of the
  key), so Faust's recovery reads them back as its own.
* :class:`Deliveries` collects every record a batch sent, so the batch is acknowledged
  only once all of them are on the broker.

>>> store = {}
>>> class Table:  # the two attributes of a Faust table that BatchedTable reads
...     class data:
...         data = store
>>> sent = []
>>> users = BatchedTable(Table, encode=lambda v: str(v).encode())
>>> users["u1"] = 1; users["u1"] = 2; users["u2"] = 3
>>> users.get("u1"), len(users), sorted(users)
(2, 2, ['u1', 'u2'])
>>> sorted(users.take_dirty())
[(b'u1', b'2'), (b'u2', b'3')]
>>> del users["u2"]
>>> users.take_dirty()
[(b'u2', None)]
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

__all__ = ["StrKeyed", "BatchedTable", "Deliveries", "WorkerTables"]


class StrKeyed(MutableMapping[str, Any]):
    """A Faust table seen through ``str`` keys while it stores the ids' UTF-8 bytes.

    Values restored from the changelog arrive as plain dicts (Faust decodes them as
    JSON); ``value_cls.from_dict`` turns them back into state objects on first read.
    """

    def __init__(self, table: Any, value_cls: Any = None) -> None:
        self.table = table
        self.value_cls = value_cls

    @property
    def _store(self) -> MutableMapping[bytes, Any]:
        """Where reads go (and, here, writes): the Faust table itself."""
        return self.table

    def _value(self, value: Any) -> Any:
        if self.value_cls is not None and isinstance(value, dict):
            return self.value_cls.from_dict(value)
        return value

    def __getitem__(self, key: str) -> Any:
        return self._value(self._store[key.encode()])

    def get(self, key: str, default: Any = None) -> Any:
        value = self._store.get(key.encode())
        return default if value is None else self._value(value)

    def __setitem__(self, key: str, value: Any) -> None:
        self.table[key.encode()] = value

    def __delitem__(self, key: str) -> None:
        del self.table[key.encode()]

    def __iter__(self) -> Iterator[str]:
        return (k.decode() for k in list(self._store))

    def __len__(self) -> int:
        return len(self._store)


_DELETED = object()


class BatchedTable(StrKeyed):
    """A table on Faust's in-memory store whose changelog is sent per batch, not per write.

    Only for ``memory://`` stores: a RocksDB store needs the current event's partition
    for every write, so the worker keeps :class:`StrKeyed` there.
    """

    def __init__(self, table: Any, value_cls: Any = None, encode: Callable[[Any], bytes] = bytes) -> None:
        super().__init__(table, value_cls)
        self.encode = encode
        self.dirty: dict[bytes, Any] = {}

    @property
    def _store(self) -> MutableMapping[bytes, Any]:
        return self.table.data.data  # Faust's memory store keeps a plain dict; recovery fills it

    def __setitem__(self, key: str, value: Any) -> None:
        k = key.encode()
        self._store[k] = value
        self.dirty[k] = value

    def __delitem__(self, key: str) -> None:
        k = key.encode()
        del self._store[k]
        self.dirty[k] = _DELETED

    def take_dirty(self) -> list[tuple[bytes, bytes | None]]:
        """``(key, changelog value)`` of every key changed since the last call; the value
        is encoded now, so a state changed twice is sent once, as it is now."""
        dirty, self.dirty = self.dirty, {}
        return [(k, None if v is _DELETED else self.encode(v)) for k, v in dirty.items()]


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

    def track(self, table: Any) -> None:
        """Follow every changelog record Faust sends for ``table``."""
        send = table.send_changelog

        def send_changelog(*args: Any, **kwargs: Any) -> Any:
            fut = send(*args, **kwargs)
            self.pending.append(fut)
            return fut

        table.send_changelog = send_changelog

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

    users: StrKeyed
    items: StrKeyed
    gates: StrKeyed
    #: (changelog topic, table) for each table whose changelog the worker sends itself:
    #: all three with the memory store, none with RocksDB (Faust writes those).
    batched: list[tuple[str, BatchedTable]]
