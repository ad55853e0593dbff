"""What keeps the worker's state right over time and across rebalances.

* **Retention** (:meth:`StateUpkeep.sweep`, a timer): users and items not seen within
  ``INTENT_STATE_TTL_DAYS`` of event time are removed with tombstones (see
  :mod:`stream.store.expiry`). Each chunk is removed while no batch is staged (the
  batches' own lock), and only between rebalances, from the partitions this worker owns:
  users of its ``events`` partitions, items of its ``events-by-item`` partitions (whose
  item records only this worker writes), and the gate of every user removed.
* **Source logs** (:meth:`StateUpkeep.check_sources`, once the tables are recovered):
  each owned ``events`` partition's :class:`~stream.processing.source_log.SourceLog` is
  read from the ``sources`` table and checked against the partition (the message at its
  anchor): a recreated or migrated topic starts a new epoch before any of its events is
  processed.
* **Decoded states** are forgotten when partitions are revoked: a restore or a new owner
  may change them meanwhile.
* **What is held**: the users and items, to the metrics, and freed memory handed back to
  the system now and then (:mod:`stream.runtime.heap`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from stream.config import Settings
from stream.io.kafka import read_at
from stream.monitoring.metrics import WorkerMetrics
from stream.processing.source_log import SourceLog, SourceLogs, verdict
from stream.runtime.heap import TRIM_EVERY_S, release_free_memory
from stream.runtime.rebalance import RebalanceBarrier
from stream.runtime.tables import WorkerTables
from stream.store.expiry import DAY_MS, expired, still_expired
from stream.store.table import StateTable

__all__ = ["StateUpkeep", "source_key"]

log = logging.getLogger(__name__)


def source_key(partition: int) -> str:
    """The ``sources`` table's key of an events partition (it lives in that partition)."""
    return f"events/{partition}"


class StateUpkeep:
    """Retention, source logs and caches of one worker's tables (see the module docstring).

    ``flush`` sends the tables' changelog records (the worker's ``flush_tables``)."""

    def __init__(
        self,
        settings: Settings,
        tables: WorkerTables,
        metrics: WorkerMetrics,
        rebalance: RebalanceBarrier,
        sources: SourceLogs,
        flush: Callable[[], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.metrics = metrics
        self.rebalance = rebalance
        self.sources = sources
        self.flush = flush
        self.events_partitions: set[int] = set()
        self.item_partitions: set[int] = set()
        self._trimmed = time.monotonic()

    # -- what is held -----------------------------------------------------------------
    def report(self) -> None:
        """The users and items held, to the metrics; freed memory handed back to the system
        every ``TRIM_EVERY_S`` (see stream.runtime.heap)."""
        self.metrics.users.set(len(self.tables.users))
        self.metrics.items.set(len(self.tables.items))
        if time.monotonic() - self._trimmed >= TRIM_EVERY_S:
            self._trimmed = time.monotonic()
            release_free_memory()

    # -- rebalances -------------------------------------------------------------------
    def revoked(self) -> None:
        for _, table in self.tables.batched:
            table.forget_cached()
        self.sources.new_generation()

    def assigned(self, assigned: Iterable[Any]) -> None:
        topics = self.settings.topics
        tps = list(assigned)
        self.events_partitions = {tp.partition for tp in tps if tp.topic == topics.events}
        self.item_partitions = {tp.partition for tp in tps if tp.topic == topics.item_events}

    async def check_sources(self) -> None:
        """Load and check the source log of every owned events partition (see the module
        docstring); a partition whose log cannot be read keeps its recorded epoch."""
        logs = self.sources
        anchored: dict[int, SourceLog] = {}
        for p in sorted(self.events_partitions):
            recorded = self.tables.sources.get(source_key(p)) or SourceLog()
            logs.load(p, recorded)
            if recorded.anchor_offset >= 0:
                anchored[p] = recorded
        if not anchored:
            return
        try:
            found = await read_at(
                self.settings, self.settings.topics.events, {p: s.anchor_offset for p, s in anchored.items()}
            )
        except Exception as exc:  # the broker's trouble: keep the epochs, say so
            log.warning("could not check the events partitions' source logs: %r", exc)
            return
        for p, recorded in anchored.items():
            if verdict(recorded, found[p]) == "new":
                what = "missing" if isinstance(found[p], str) else "another message"
                logs.restart(p, f"the message at offset {recorded.anchor_offset}, its anchor, is {what}")
                self.metrics.source_log_restarts.inc()
        self.save_sources()

    def save_sources(self) -> None:
        """Write the source logs that changed (anchors move every batch) to their table."""
        for p, source in self.sources.take_changed().items():
            self.tables.sources[source_key(p)] = source

    # -- retention --------------------------------------------------------------------
    async def sweep(self, watermark_ms: int) -> dict[str, int]:
        """Remove the users and items not seen since ``watermark_ms`` less the retention;
        returns how many of each. Stops at a rebalance (the next sweep goes on)."""
        ttl_ms = int(self.settings.state_ttl_days * DAY_MS)
        removed = {"users": 0, "items": 0}
        if ttl_ms <= 0 or watermark_ms <= 0:
            return removed
        cutoff = watermark_ms - ttl_ms
        tables = self.tables
        for name, table, partitions in (
            ("users", tables.users, self.events_partitions),
            ("items", tables.items, self.item_partitions),
        ):
            for chunk in expired(table, sorted(partitions), cutoff):
                if not self.rebalance.quiet.is_set():
                    return removed
                if not chunk:
                    await asyncio.sleep(0)  # let the batches run between chunks
                    continue
                async with self.rebalance.staging:  # no batch is staged meanwhile
                    n = self._remove(name, table, chunk, cutoff)
                removed[name] += n
                self.metrics.expired.labels(table=name).inc(n)
                await self.flush()
        if removed["users"] or removed["items"]:
            log.info(
                "retention: removed %d users and %d items not seen for %g days",
                removed["users"],
                removed["items"],
                self.settings.state_ttl_days,
            )
        return removed

    def _remove(self, name: str, table: StateTable, chunk: list[tuple[int, bytes]], cutoff: int) -> int:
        # No await here: a batch sees each key either whole or gone.
        gates = self.tables.gates
        n = 0
        for partition, key in chunk:
            if still_expired(table, partition, key, cutoff):
                table.delete_raw(key, partition)
                if name == "users" and gates.store.read(partition, key) is not None:
                    gates.delete_raw(key, partition)
                n += 1
        return n
