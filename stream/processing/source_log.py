"""Which log an ``events`` partition's offsets count in, so that a recreated topic loses
nothing.

A user's state remembers the offset of the last event folded in, and a redelivered
batch (after a crash, from the last committed offset) is skipped however long it is by
its offsets. But offsets mean something only within one log: a topic deleted and created
again, or migrated to another cluster, starts its offsets again, and every new event
would then look like an old one. So each events partition has a :class:`SourceLog`: an
*epoch*, which a user's offset is recorded under, and an *anchor*, the offset and digest
of the latest message processed. When the worker takes a partition, it reads the
message at the anchor (:func:`verdict`): the same message means the same log; a
different one, or none because the log is shorter, means a new log, and the epoch moves
on, so no offset recorded before counts. Offsets that go back while the worker reads a
partition (no rebalance in between, so no redelivery) mean a new log too
(:meth:`SourceLogs.observe`). Duplicates across the change are still caught by event id.

>>> logs = SourceLogs()
>>> logs.observe([(0, 5, b"k", b"v5"), (0, 6, b"k", b"v6")])
[]
>>> logs.logs[0].anchor_offset, logs.epoch(0)
(6, 0)
>>> logs.observe([(0, 0, b"k", b"new")])  # offsets went back: a new log
[0]
>>> logs.epoch(0), logs.logs[0].anchor_offset
(1, 0)
>>> verdict(logs.logs[0], found=(b"k", b"new")), verdict(logs.logs[0], found=(b"k", b"other"))
('same', 'new')
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import orjson

__all__ = ["SourceLog", "SourceLogs", "verdict", "message_digest", "GONE", "BEYOND"]

log = logging.getLogger(__name__)

#: What reading the anchor found, besides a message: it was deleted (before the log's
#: start: retention), or the log ends before it.
GONE, BEYOND = "gone", "beyond"


def message_digest(key: bytes | None, value: bytes | None) -> int:
    """64 bits that tell one message from another."""
    h = hashlib.blake2b(digest_size=8)
    h.update(key or b"")
    h.update(b"\0")
    h.update(value or b"")
    return int.from_bytes(h.digest(), "big")


@dataclass
class SourceLog:
    """One events partition's log: its epoch and the latest message processed in it."""

    epoch: int = 0
    anchor_offset: int = -1  # -1: none yet
    anchor_digest: int = 0

    def encode(self) -> bytes:
        return orjson.dumps([self.epoch, self.anchor_offset, self.anchor_digest])

    @classmethod
    def decode(cls, raw: bytes) -> SourceLog:
        epoch, offset, digest = orjson.loads(raw)
        return cls(int(epoch), int(offset), int(digest))

    def next_epoch(self) -> SourceLog:
        return SourceLog(self.epoch + 1)


def verdict(log: SourceLog, found: tuple[bytes | None, bytes | None] | str) -> Literal["same", "new"]:
    """Whether the partition is still ``log``, given what it holds at the anchor's offset:
    a message ``(key, value)``, :data:`GONE` (retention deleted it: the same log, older
    than the anchor) or :data:`BEYOND` (the log is shorter: a new one)."""
    if log.anchor_offset < 0 or found == GONE:
        return "same"
    if found == BEYOND or isinstance(found, str):
        return "new"
    return "same" if message_digest(*found) == log.anchor_digest else "new"


class SourceLogs:
    """Every owned events partition's :class:`SourceLog`, and the offsets read since the
    last rebalance. The processor checks each message inline (its hot loop):
    ``offset <= read.get(partition, -1)`` means the log restarted (:meth:`restart`);
    :meth:`observe` is the same for a whole batch."""

    def __init__(self) -> None:
        self.logs: dict[int, SourceLog] = {}
        self.epochs: dict[int, int] = {}  # partition -> epoch, read once a message
        self.read: dict[int, int] = {}  # partition -> latest offset read this generation
        self.changed: set[int] = set()  # partitions whose log changed since take_changed()

    def epoch(self, partition: int) -> int:
        return self.epochs.get(partition, 0)

    def load(self, partition: int, log: SourceLog) -> None:
        self.logs[partition] = log
        self.epochs[partition] = log.epoch

    def new_generation(self) -> None:
        """A rebalance: partitions are read again from their committed offsets."""
        self.read.clear()

    def restart(self, partition: int, why: str = "") -> int:
        """The partition's log is a new one (``why``: logged): the next epoch (returned)."""
        source = (self.logs.get(partition) or SourceLog()).next_epoch()
        self.load(partition, source)
        self.changed.add(partition)
        if why:
            log.warning(
                "events partition %d: %s: a new log (a recreated or migrated topic); its offsets "
                "now count in epoch %d (repeats are still caught by event id)",
                partition,
                why,
                source.epoch,
            )
        return source.epoch

    def anchor(self, partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        """The latest message processed in ``partition``."""
        self.logs[partition] = SourceLog(self.epoch(partition), offset, message_digest(key, value))
        self.changed.add(partition)

    def take_changed(self) -> dict[int, SourceLog]:
        changed, self.changed = self.changed, set()
        return {p: self.logs[p] for p in changed}

    def observe(self, messages: Iterable[tuple[int, int, bytes | None, bytes | None]]) -> list[int]:
        """Note ``(partition, offset, key, value)`` of a batch, in order: each partition's
        anchor moves to its latest message. Returns the partitions whose offsets went back
        (each now in a new epoch)."""
        latest: dict[int, tuple[int, bytes | None, bytes | None]] = {}
        restarted: list[int] = []
        for partition, offset, key, value in messages:
            if partition < 0 or offset < 0:
                continue
            if offset <= self.read.get(partition, -1):
                self.restart(partition)
                restarted.append(partition)
            self.read[partition] = offset
            latest[partition] = (offset, key, value)
        for partition, (offset, key, value) in latest.items():
            self.anchor(partition, offset, key, value)
        return restarted
