"""The persistent table store: RocksDB (through ``rocksdict``), one database per partition.

For production: the states live on disk (the worker's data volume), RocksDB's caches
are bounded, and a restart reads only the changelog records written after what the
local databases hold (Faust's persisted offset, kept in each database beside the data),
instead of every record ever written.

What it changes in Faust's RocksDB store:

* **Writes wait for their changelog records.** Faust's store writes under the current
  stream event's partition (``_set`` asserts there is one), and the worker writes its
  tables from a task, a batch at a time. Here a write names its partition and is held
  in memory (:meth:`RocksStateStore.write`, read back by :meth:`~RocksStateStore.read`)
  until the worker's changelog records for it are on the broker; then
  :meth:`~RocksStateStore.commit` writes them and the changelog offset they reached in
  one atomic batch. So the database never holds a state the changelog lacks: after a
  SIGKILL, the local state plus the changelog's tail is exactly the changelog's state,
  and a standby or a new owner restoring from the changelog sees the same.
* **Memory is bounded for the whole process**: one block cache shared by every table and
  partition, with the memtables charged to it (a write buffer manager), instead of 2 GiB
  of cache for each database Faust opens.

>>> RocksLimits(cache_mb=64).per_db_write_buffer
8388608
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rocksdict
from faust.stores import rocksdb

from stream.processing.item_events import partition_for

__all__ = ["RocksStateStore", "RocksLimits", "configure_rocksdb"]

_MISSING = object()


@dataclass(frozen=True)
class RocksLimits:
    """The memory RocksDB may use in one worker process, whatever the number of states."""

    #: Block cache shared by every table and partition; memtables are charged to it.
    cache_mb: int = 256

    @property
    def per_db_write_buffer(self) -> int:
        """One memtable of a database: an eighth of the cache, at most 16 MiB."""
        return min(self.cache_mb * 1024 * 1024 // 8, 16 * 1024 * 1024)


_limits = RocksLimits()
_shared: tuple[Any, Any] | None = None  # (cache, write buffer manager), made once a process


def configure_rocksdb(limits: RocksLimits) -> None:
    """Set the process's RocksDB limits (before the first database opens)."""
    global _limits, _shared
    _limits, _shared = limits, None


def _options() -> Any:
    global _shared
    if _shared is None:
        cache = rocksdict.Cache(_limits.cache_mb * 1024 * 1024)
        manager = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
            _limits.cache_mb * 1024 * 1024 // 2, False, cache
        )
        _shared = (cache, manager)
    cache, manager = _shared
    opts = rocksdict.Options(raw_mode=True)
    opts.create_if_missing(True)
    opts.set_max_open_files(256)
    opts.set_write_buffer_size(_limits.per_db_write_buffer)
    opts.set_max_write_buffer_number(2)
    opts.set_write_buffer_manager(manager)
    table = rocksdict.BlockBasedOptions()
    table.set_block_cache(cache)
    table.set_cache_index_and_filter_blocks(True)  # their memory in the cache's bound too
    table.set_bloom_filter(10, False)
    opts.set_block_based_table_factory(table)
    opts.set_compression_type(rocksdict.DBCompressionType.lz4())
    return opts


class RocksStateStore(rocksdb.Store):
    """A Faust table store of bytes in RocksDB; see the module docstring."""

    durable = True

    def __init__(self, url: Any, app: Any, table: Any, **kwargs: Any) -> None:
        kwargs["driver"] = "rocksdict"
        super().__init__(url, app, table, **kwargs)
        #: Writes not yet on the changelog: partition -> key -> value (None: deleted).
        self.pending: dict[int, dict[bytes, bytes | None]] = {}

    def _open_for_partition(self, partition: int) -> Any:
        path: Path = self.partition_path(partition)
        path.parent.mkdir(parents=True, exist_ok=True)
        db = rocksdict.Rdict(str(path), options=_options())
        db.set_read_options(rocksdict.ReadOptions())
        return db

    # -- what the worker's tables use -------------------------------------------------
    def find(self, key: bytes) -> tuple[int, bytes | None]:
        """``(partition, value)`` of ``key``: its partition is the murmur2 hash's."""
        partition = partition_for(key, self.n_partitions)
        return partition, self.read(partition, key)

    @property
    def n_partitions(self) -> int:
        return int(self.table.partitions or self.app.conf.topic_partitions)

    def read(self, partition: int, key: bytes) -> bytes | None:
        pending = self.pending.get(partition)
        if pending:
            value = pending.get(key, _MISSING)
            if value is not _MISSING:
                return value  # type: ignore[return-value]
        return self._db_for_partition(partition).get(key)

    def write(self, partition: int, key: bytes, value: bytes | None) -> None:
        """Hold a write (None: a delete) until :meth:`commit`."""
        pending = self.pending.get(partition)
        if pending is None:
            pending = self.pending[partition] = {}
        pending[key] = value

    def commit(self, partition: int, records: Iterable[tuple[bytes, bytes | None]], offset: int) -> None:
        """``records`` are on the changelog, up to ``offset``: into the database with that
        offset, atomically. A partition revoked meanwhile is skipped (its new owner, or
        this worker when it gets it back, restores from the changelog)."""
        db = self._dbs.get(partition)
        pending = self.pending.get(partition, {})
        if db is None:
            return
        batch = rocksdict.WriteBatch(raw_mode=True)
        done = []
        for key, value in records:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
            done.append((key, value))
        batch.put(self.offset_key, str(offset).encode())
        db.write(batch)
        for key, value in done:
            if pending.get(key, _MISSING) is value:  # not written again since
                del pending[key]

    def scan(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """One partition's keys and values, read as the scan goes (held writes first)."""
        pending = dict(self.pending.get(partition, {}))
        yield from ((k, v) for k, v in pending.items() if v is not None)
        for k, v in self._db_for_partition(partition).items():
            if k != self.offset_key and k not in pending:
                yield k, v

    def owned_partitions(self) -> list[int]:
        return list(self._dbs)

    def size(self) -> int:
        """Keys held: RocksDB's estimate (exact after a compaction), plus pending new keys."""
        dbs = list(self._dbs.values())
        n = sum(int(db.property_int_value("rocksdb.estimate-num-keys") or 0) for db in dbs)
        return max(n - len(dbs), 0) + sum(len(p) for p in self.pending.values())  # less offset keys

    def revoke_partitions(self, table: Any, tps: Any) -> None:
        super().revoke_partitions(table, tps)
        for tp in tps:
            if tp.topic in table.changelog_topic.topics:
                self.pending.pop(tp.partition, None)
