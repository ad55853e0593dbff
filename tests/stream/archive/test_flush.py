"""Flushes made durable, and the exactly-once protocol with a crash at every step.

The property test drives :class:`~stream.archive.partitions.PartitionFlushes` over a
partition's messages exactly as the archiver does (take, seal when full, commit), kills
it at chosen steps (a rename, a directory fsync, the commit), restarts it from
:func:`~stream.archive.resume.resume_partitions` and the last commit, and checks that
the archive ends with every valid message exactly once. Kafka is a list here; the
archiver on the real broker is tested in ``test_archiver.py``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream.archive import flush as flush_module
from stream.archive.flush import Flush, archive_events
from stream.archive.partitions import PartitionFlushes
from stream.archive.resume import resume_partitions, start_offset
from stream.domain.archive_layout import DAY_MS, FLUSH_DAYS_KEY, PartName
from stream.domain.archive_reader import ArchiveReader, event_order
from stream.domain.events import Event, encode_event
from stream.monitoring.archive_metrics import ArchiveMetrics

DAY0 = 1454284800000  # 2016-02-01 00:00 UTC
KAFKA_TS = 1_764_400_000_000  # when the messages were written (2025)


class Crash(Exception):
    """The process dies here (nothing after it runs; what is on disk stays)."""


def event(offset: int, day: int) -> Event:
    return Event(f"s:{offset}", f"u{offset % 3}", f"i{offset % 5}", "view", DAY0 + day * DAY_MS + offset % 2)


def message(offset: int, day: int, valid: bool) -> tuple[bytes, bytes]:
    """An events message at ``offset`` whose event falls on day ``day``."""
    e = event(offset, day)
    return e.user_id.encode(), encode_event(e) if valid else b'{"event_id":'


def archived_offsets(root: Path, partition: int = 0) -> list[int]:
    """Every offset in the archive's durable files of ``partition``, with repeats."""
    out: list[int] = []
    for file in root.glob("date=*/part-*.parquet"):
        name = PartName.parse(file.name)
        if name is not None and name.partition == partition:
            out.extend(pq.read_table(file, columns=["offset"]).column("offset").to_pylist())
    return out


class CrashingArchiver:
    """The archiver's steps for one partition, over a list of messages, dying at the
    steps in ``crash_at`` (counted over the renames, directory fsyncs and commits)."""

    def __init__(self, root: Path, messages: list[tuple[bytes, bytes]], roll_events: int, crash_at: set[int]):
        self.root, self.messages, self.roll_events = root, messages, roll_events
        self.crash_at, self.steps = crash_at, itertools.count()
        self.committed: int | None = None
        self.crashes = 0

    def step(self) -> None:
        if next(self.steps) in self.crash_at:
            self.crashes += 1
            raise Crash

    def run_once(self) -> None:
        """One process's life: resume, read to the end, stop cleanly (or crash)."""
        resume = resume_partitions(self.root, [0])[0]
        start = start_offset(self.committed, resume.next_offset) or 0
        book = PartitionFlushes(self.root, 0, self.roll_events, 1e9, ArchiveMetrics(), row_group_rows=2)
        book.own(0, start)
        for offset in range(start, len(self.messages)):
            key, value = self.messages[offset]
            if book.take(0, offset, key, value, KAFKA_TS, now=0.0):
                self.seal_and_commit(book)
        self.seal_and_commit(book)  # a clean stop

    def seal_and_commit(self, book: PartitionFlushes) -> None:
        flush = book.pop(0)
        if flush is None:
            return
        flush.seal()
        self.step()  # killed after the files are durable, before the commit
        self.committed = flush.last + 1

    def run(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_replace, real_fsync_dir = flush_module.os.replace, flush_module.fsync_dir

        def replace(src: object, dst: object) -> None:
            self.step()
            real_replace(src, dst)  # type: ignore[arg-type]

        def fsync_dir(path: Path) -> None:
            self.step()
            real_fsync_dir(path)

        monkeypatch.setattr(flush_module.os, "replace", replace)
        monkeypatch.setattr(flush_module, "fsync_dir", fsync_dir)
        while True:
            try:
                self.run_once()
                return
            except Crash:
                continue


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    days=st.lists(st.integers(0, 2), min_size=1, max_size=40),
    invalid=st.sets(st.integers(0, 39), max_size=8),
    roll_events=st.integers(1, 9),
    crash_at=st.sets(st.integers(0, 60), max_size=6),
)
def test_every_valid_message_is_archived_once_whatever_step_a_crash_hits(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    days: list[int],
    invalid: set[int],
    roll_events: int,
    crash_at: set[int],
) -> None:
    root = tmp_path_factory.mktemp("archive")
    messages = [message(k, day, k not in invalid) for k, day in enumerate(days)]
    with monkeypatch.context() as patch:
        CrashingArchiver(root, messages, roll_events, crash_at).run(patch)
    valid = [k for k in range(len(days)) if k not in invalid]
    assert sorted(archived_offsets(root)) == valid  # each once, none lost
    assert not list(root.glob("date=*/.*"))  # no hidden file left behind
    events = list(ArchiveReader([root])) if valid else []
    assert events == sorted((event(k, days[k]) for k in valid), key=event_order)


def test_a_crash_between_a_flushs_renames_leaves_an_incomplete_flush_that_resume_removes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flush = Flush(tmp_path, 0, 100, day_offset_ms=0)
    for k, day in enumerate([0, 1, 1, 0]):
        flush.add(Event(f"s:{k}", "u", "i", "view", DAY0 + day * DAY_MS), 0, 100 + k)
    renames = 0
    real = flush_module.os.replace

    def replace_once(src: str, dst: str) -> None:
        nonlocal renames
        if renames == 1:
            raise Crash
        renames += 1
        real(src, dst)

    monkeypatch.setattr(flush_module.os, "replace", replace_once)
    with pytest.raises(Crash):
        flush.seal()
    monkeypatch.undo()
    (placed,) = tmp_path.glob("date=*/part-0-100-103.parquet")  # one of its two days
    days = pq.read_metadata(placed).metadata[FLUSH_DAYS_KEY]
    assert days == b"2016-02-01,2016-02-02"
    resume = resume_partitions(tmp_path, [0])[0]
    assert resume.next_offset is None and resume.removed == [placed]
    assert not list(tmp_path.glob("date=*/*"))  # the hidden file of the other day too


def test_resume_reads_past_the_commit_when_the_files_are_ahead_of_it(tmp_path: Path) -> None:
    archive_events(tmp_path, [Event("s:0", "u", "i", "view", DAY0)], partition=2, first_offset=40)
    archive_events(tmp_path, [Event("s:1", "u", "i", "view", DAY0 + DAY_MS)], partition=2, first_offset=41)
    resume = resume_partitions(tmp_path, [1, 2])
    assert resume[1].next_offset is None and resume[2].next_offset == 42
    assert start_offset(committed=41, archived=resume[2].next_offset) == 42  # killed before the commit
    assert start_offset(committed=50, archived=resume[2].next_offset) == 50  # invalid messages 42..49


def test_resume_leaves_the_other_partitions_files_alone(tmp_path: Path) -> None:
    archive_events(tmp_path, [Event("s:0", "u", "i", "view", DAY0)], partition=1)
    hidden = tmp_path / "date=2016-02-01" / ".part-1-5.parquet.tmp"
    other = tmp_path / "date=2016-02-01" / ".part-12-5.parquet.tmp"
    hidden.write_bytes(b"half a file")
    other.write_bytes(b"another archiver's file in the making")
    assert resume_partitions(tmp_path, [1])[1].next_offset == 1
    assert not hidden.exists() and other.exists()


def test_abort_removes_a_flushs_hidden_files(tmp_path: Path) -> None:
    flush = Flush(tmp_path, 0, 0, day_offset_ms=0, row_group_rows=1)
    flush.add(Event("s:0", "u", "i", "view", DAY0), 0, 0)  # a row group written: a hidden file
    assert [p.name for p in tmp_path.glob("date=*/.*")] == [".part-0-0.parquet.tmp"]
    flush.abort()
    assert not list(tmp_path.glob("date=*/*"))


def test_files_roll_by_size_and_a_quiet_partition_by_time(tmp_path: Path) -> None:
    metrics = ArchiveMetrics()
    book = PartitionFlushes(tmp_path, 0, roll_events=3, roll_s=10.0, metrics=metrics)
    book.own(0, None)
    book.own(1, 7)
    full = [book.take(0, k, *message(k, 0, True), KAFKA_TS, now=float(k)) for k in range(3)]
    assert full == [False, False, True]  # the third event fills it
    assert book.take(1, 6, *message(6, 0, True), KAFKA_TS, now=0.0) is False  # before partition 1's start
    assert book.take(1, 7, *message(7, 0, False), KAFKA_TS, now=5.0) is False  # invalid: counted, covered
    assert book.due(now=14.9) == [0] and book.due(now=15.0) == [0, 1]
    sealed = book.pop(1)
    assert sealed is not None and (sealed.first, sealed.last, sealed.rows) == (7, 7, 0)
    assert sealed.seal() == []  # nothing to write, the offset still committed after it
    (sample,) = [s for s in metrics.skipped.collect()[0].samples if s.name.endswith("_total")]
    assert sample.labels == {"reason": "invalid_json"} and sample.value == 1
    assert book.take(3, 0, *message(0, 0, True), KAFKA_TS, now=0.0) is False  # not ours
    assert book.disown([0]) == 3 and book.flushes == {}


def test_the_key_must_be_the_user_id_as_the_worker_requires(tmp_path: Path) -> None:
    metrics = ArchiveMetrics()
    book = PartitionFlushes(tmp_path, 0, roll_events=9, roll_s=10.0, metrics=metrics)
    book.own(0, None)
    _, value = message(0, 0, True)
    book.take(0, 0, b"someone-else", value, KAFKA_TS, now=0.0)
    reasons = Counter(
        s.labels["reason"] for s in metrics.skipped.collect()[0].samples if s.name.endswith("_total")
    )
    assert reasons == {"key_mismatch": 1}
