"""``intent archive``: the ``events`` topic into the event archive, every valid event
exactly once, across crashes.

A consumer of ``events`` in a group of its own (``<INTENT_APP_ID>-archive``; start
several to share the partitions, on one shared directory). The loop:

1. messages go into their partition's open flush
   (:class:`~stream.archive.partitions.PartitionFlushes`);
2. a full or old flush is sealed (:meth:`~stream.archive.flush.Flush.seal`: hidden files
   fsynced, renamed into place, directories fsynced), and only then is the partition's
   offset committed;
3. when partitions are assigned, each is read from after its committed offset or its
   archived files, whichever is further (:mod:`stream.archive.resume`; a flush a crash
   cut short is removed first);
4. when partitions are revoked, their open flushes are dropped, so no file is written for
   a partition this process no longer owns (the next owner reads them again); a seal in
   progress finishes and commits first (one lock for the loop and the rebalance);
5. a clean stop (SIGTERM, ``idle_exit_s``) seals and commits everything.

So a SIGKILL at any moment leaves either hidden files (removed at the next assignment),
a flush short of some days' files (removed, its events read again), or whole flushes
the commit may not know yet (read past). Exactly once in the files needs one owner
writing a partition at a time: a process that stalls past its session (its partitions
reassigned) while it renames could still write a flush the new owner writes too; this
archiver checks nothing beyond Kafka's group (no fencing), so keep its seals short.

Runs against a broker: ``tests/stream/archive/test_archiver.py`` replays the JD sample
through it, killed with SIGKILL twice. :func:`run_archive` is the command in Python:

>>> import asyncio
>>> settings = Settings.from_env({"INTENT_ARCHIVE_DIR": "/tmp/archive"})
>>> archive_group(settings), settings.archive_roll_s, Settings(archive_utc_offset_h=8).archive_day_offset_ms
('intent-worker-archive', 300.0, -28800000)
>>> counts = asyncio.run(run_archive(settings, idle_exit_s=30))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from stream.archive.partitions import PartitionFlushes
from stream.archive.resume import archive_day_offset, resume_partitions, start_offset
from stream.config import Settings
from stream.io.kafka import consumer
from stream.monitoring.archive_metrics import ArchiveMetrics
from stream.monitoring.metrics_server import MetricsServer
from stream.processing.privacy import Pseudonymizer

__all__ = ["Archiver", "ArchiveCounts", "ArchiveError", "run_archive", "archive_group", "check_archive_dir"]


def check_archive_dir(settings: Settings) -> None:
    """Refuse, in one line, an archive directory whose files split days in another time zone
    (their days would mix); create it when missing."""
    root = settings.archive_dir
    root.mkdir(parents=True, exist_ok=True)
    found = archive_day_offset(root)
    if found is not None and found != settings.archive_day_offset_ms:
        raise ArchiveError(
            f"{root} holds days that start {-found / 3_600_000:+g} h from UTC, but "
            f"INTENT_ARCHIVE_UTC_OFFSET_H is {settings.archive_utc_offset_h:g}: "
            "use the archive's time zone, or another directory"
        )


def archive_group(settings: Settings) -> str:
    """The archiver's consumer group: its own, beside the workers' (``INTENT_APP_ID``)."""
    return f"{settings.app_id}-archive"


class ArchiveError(RuntimeError):
    """The archive directory cannot take this archiver's files."""


@dataclass
class ArchiveCounts:
    """What one run archived."""

    events: int = 0
    files: int = 0
    bytes: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    dropped_on_revoke: int = 0


class Archiver:
    """One archiver process: its consumer, its partitions' flushes, its metrics."""

    def __init__(
        self, settings: Settings, metrics: ArchiveMetrics, log: Callable[[str], None] = print
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.log = log
        self.root = settings.archive_dir
        self.topic = settings.topic_events
        self.flushes = PartitionFlushes(
            self.root,
            settings.archive_day_offset_ms,
            settings.archive_roll_events,
            settings.archive_roll_s,
            metrics,
            Pseudonymizer(settings.pseudonymize_key),
        )
        self.durable: dict[int, int] = {}  # owned partition -> one past its last durable offset
        self.rebalances = 0  # assignments and revocations so far
        self.counts = ArchiveCounts()
        self.lock = asyncio.Lock()  # the loop's steps and the rebalance callbacks, one at a time
        session_ms = int(settings.session_timeout_s * 1000)
        self.consumer = consumer(
            settings,
            group_id=archive_group(settings),
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=max(session_ms // 10, 300),
        )

    async def run(self, idle_exit_s: float | None = None, stop: asyncio.Event | None = None) -> ArchiveCounts:
        """Archive until ``stop`` is set (or ``idle_exit_s`` without a message), then seal
        and commit what is open."""
        check_archive_dir(self.settings)
        self.consumer.subscribe([self.topic], listener=_Rebalance(self))
        await self.consumer.start()
        last_message = time.monotonic()
        try:
            while not (stop is not None and stop.is_set()):
                rebalances = self.rebalances
                batch = await self.consumer.getmany(timeout_ms=200)
                async with self.lock:
                    now = time.monotonic()
                    if rebalances != self.rebalances:
                        batch = self._fetched_before_rebalance(batch)
                    for tp, records in batch.items():
                        for r in records:
                            if self.flushes.take(tp.partition, r.offset, r.key, r.value, r.timestamp, now):
                                await self._seal(tp.partition)
                    for partition in self.flushes.due(now):
                        await self._seal(partition)
                    self._report_lag()
                if batch:
                    last_message = now
                elif idle_exit_s is not None and time.monotonic() - last_message >= idle_exit_s:
                    break
            async with self.lock:
                for partition in list(self.flushes.flushes):
                    await self._seal(partition)
        finally:
            self.metrics.ready.set(0)
            await self.consumer.stop()
        return self.counts

    def _fetched_before_rebalance(self, batch: dict[Any, list[Any]]) -> dict[Any, list[Any]]:
        """A batch that a rebalance overtook: its records may come from before the new
        assignment's seeks (a partition given up and taken again, read past the point it is
        now read from), so none is taken; each partition still ours is sought back to where
        it is to be read from, and what the batch held is fetched again."""
        for tp in batch:
            start = self.flushes.next_offset.get(tp.partition)
            if start is not None:
                self.consumer.seek(tp, start)
        return {}

    async def _seal(self, partition: int) -> None:
        flush = self.flushes.pop(partition)
        if flush is None:
            return
        files = await asyncio.to_thread(flush.seal)
        size = sum(f.stat().st_size for f in files)
        m, c = self.metrics, self.counts
        m.events.inc(flush.rows)
        m.files.inc(len(files))
        m.bytes.inc(size)
        if files:
            m.last_file.set(time.time())
        c.events, c.files, c.bytes = c.events + flush.rows, c.files + len(files), c.bytes + size
        self.durable[partition] = flush.last + 1
        try:
            await self.consumer.commit({TopicPartition(self.topic, partition): flush.last + 1})
        except KafkaError as exc:  # the files are durable: the next owner reads on after them
            self.log(f"archive: partition {partition}: commit of offset {flush.last + 1} failed ({exc!r})")

    def _report_lag(self) -> None:
        for partition, durable in self.durable.items():
            end = self.consumer.highwater(TopicPartition(self.topic, partition))
            if end is not None:
                self.metrics.partition_lag.set(partition, max(end - durable, 0))

    async def revoked(self, partitions: list[int]) -> None:
        async with self.lock:
            self.rebalances += 1
            dropped = self.flushes.disown(partitions)
            self.counts.dropped_on_revoke += dropped
            self.metrics.partition_lag.forget(partitions)
            for p in partitions:
                self.durable.pop(p, None)
            if dropped:
                self.log(
                    f"archive: partitions {partitions} revoked; {dropped:,} uncommitted events "
                    "left to their next owner"
                )

    async def assigned(self, partitions: list[int]) -> None:
        async with self.lock:
            self.rebalances += 1
            resumes = await asyncio.to_thread(resume_partitions, self.root, partitions)
            for p in partitions:
                tp = TopicPartition(self.topic, p)
                committed = await self.consumer.committed(tp)
                archived, removed = resumes[p]
                start = start_offset(committed, archived)
                if start is None:  # never read: from the first event the topic still holds
                    start = (await self.consumer.beginning_offsets([tp]))[tp]
                self.consumer.seek(tp, start)
                if archived is not None and (committed is None or archived > committed):
                    self.metrics.recoveries.labels(kind="past_commit").inc()
                    self.log(
                        f"archive: partition {p}: files reach offset {archived - 1}, past the committed "
                        f"{committed}: reading on from {archived}"
                    )
                if removed:
                    self.metrics.recoveries.labels(kind="incomplete_flush").inc()
                    self.log(f"archive: partition {p}: removed {len(removed)} file(s) of a flush cut short")
                self.flushes.own(p, start)
                self.durable[p] = start
            self.metrics.ready.set(1)
            self.log(f"archive: assigned partitions {sorted(partitions)} of {self.topic}")


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, archiver: Archiver) -> None:
        self.archiver = archiver

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.archiver.revoked(sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.archiver.assigned(sorted(tp.partition for tp in assigned))


async def run_archive(
    settings: Settings,
    metrics: ArchiveMetrics | None = None,
    idle_exit_s: float | None = None,
    stop: asyncio.Event | None = None,
    log: Callable[[str], None] = print,
) -> ArchiveCounts:
    """Archive ``events`` into ``settings.archive_dir`` (see the module's docstring),
    serving ``metrics`` on ``INTENT_ARCHIVE_METRICS_PORT`` unless it is 0."""
    metrics = metrics or ArchiveMetrics()
    server = None
    if settings.archive_metrics_port:
        server = MetricsServer(metrics, settings.metrics_host, settings.archive_metrics_port).start()
        log(f"archive: metrics on http://{settings.metrics_host}:{server.port}/metrics")
    try:
        counts = await Archiver(settings, metrics, log).run(idle_exit_s, stop)
    finally:
        if server is not None:
            server.stop()
    counts.skipped = {
        s.labels["reason"]: int(s.value)
        for family in metrics.skipped.collect()
        for s in family.samples
        if s.name.endswith("_total")
    }
    return counts
