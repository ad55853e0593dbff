"""The partitions an archiver owns, each with its open flush, and when a flush rolls.

Every message of an owned partition is validated by the worker's own
:func:`~stream.domain.events.parse_message` (judged at its Kafka timestamp, so archiving
the topic again later keeps the same events): a valid event goes into the partition's
open :class:`~stream.archive.flush.Flush` (user ids pseudonymised first when
``INTENT_PSEUDONYMIZE_KEY`` is set, as in the worker's state), an invalid one is counted
by reason and skipped (the worker dead-letters it), its offset still covered by the
flush. A flush rolls at ``roll_events`` events, or ``roll_s`` after its first message
(:meth:`PartitionFlushes.due`: a quiet partition closes its files too). A message at an
offset already taken (read again before a seek took effect) is ignored. No Kafka here:
:mod:`stream.archive.archiver` feeds it.

>>> import tempfile
>>> from stream.monitoring.archive_metrics import ArchiveMetrics
>>> book = PartitionFlushes(Path(tempfile.mkdtemp()), 0, roll_events=2, roll_s=60, metrics=ArchiveMetrics())
>>> book.own(0, start=None)
>>> ok = b'{"event_id":"e1","user_id":"u1","item_id":"i1","type":"view","ts":1454284800000}'
>>> book.take(0, 10, b"u1", ok, 1764400000000, now=0.0), book.take(0, 11, None, b"{", 1764400000000, now=0.5)
(False, False)
>>> book.take(0, 11, b"u1", ok, 1764400000000, now=0.6)   # offset 11 again: ignored
False
>>> book.due(now=59.0), book.due(now=60.0)
([], [0])
>>> flush = book.pop(0); (flush.first, flush.last, flush.rows)
(10, 11, 1)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from stream.archive.flush import ROW_GROUP_ROWS, Flush
from stream.domain.events import InvalidEvent, parse_message
from stream.monitoring.archive_metrics import ArchiveMetrics
from stream.processing.privacy import Pseudonymizer

__all__ = ["PartitionFlushes"]


class PartitionFlushes:
    """Owned partitions, their open flushes, and the roll rule."""

    def __init__(
        self,
        root: Path,
        day_offset_ms: int,
        roll_events: int,
        roll_s: float,
        metrics: ArchiveMetrics,
        pseudonymize: Pseudonymizer | None = None,
        row_group_rows: int = ROW_GROUP_ROWS,
    ) -> None:
        self.root = root
        self.day_offset_ms = day_offset_ms
        self.roll_events = roll_events
        self.roll_s = roll_s
        self.metrics = metrics
        self.pseudonymize = pseudonymize or Pseudonymizer("")
        self.row_group_rows = row_group_rows
        self.flushes: dict[int, Flush] = {}
        #: owned partition -> the next offset to take (None: whatever comes first)
        self.next_offset: dict[int, int | None] = {}

    def own(self, partition: int, start: int | None) -> None:
        """Take ``partition``, to be read from ``start``."""
        self.next_offset[partition] = start

    def disown(self, partitions: Iterable[int]) -> int:
        """Give partitions up: their open flushes are dropped (nothing of them was committed,
        so their next owner reads them again). Returns the events dropped."""
        dropped = 0
        for p in partitions:
            self.next_offset.pop(p, None)
            flush = self.flushes.pop(p, None)
            if flush is not None:
                dropped += flush.rows
                flush.abort()
        return dropped

    def take(
        self, partition: int, offset: int, key: bytes | None, value: bytes | None, kafka_ts: int, now: float
    ) -> bool:
        """One message; True when its partition's flush is full (seal it now)."""
        if partition not in self.next_offset:
            return False  # not (any more) ours
        expected = self.next_offset[partition]
        if expected is not None and offset < expected:
            return False
        flush = self.flushes.get(partition)
        if flush is None:
            flush = self.flushes[partition] = Flush(
                self.root, partition, offset, self.day_offset_ms, now, self.row_group_rows
            )
        try:
            event = parse_message(value, key, kafka_ts if kafka_ts > 0 else None)
        except InvalidEvent as exc:
            self.metrics.skipped.labels(reason=exc.reason).inc()
            flush.skip(offset)
        else:
            flush.add(self.pseudonymize.event(event), kafka_ts, offset)
        self.next_offset[partition] = offset + 1
        return flush.rows >= self.roll_events

    def due(self, now: float) -> list[int]:
        """Partitions whose open flush is ``roll_s`` old."""
        return [p for p, flush in self.flushes.items() if now - flush.opened_at >= self.roll_s]

    def pop(self, partition: int) -> Flush | None:
        """The partition's open flush, to be sealed (the next message opens another)."""
        return self.flushes.pop(partition, None)
