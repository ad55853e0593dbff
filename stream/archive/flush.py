"""A partition's events on their way into the archive: a *flush* is everything one
partition delivered since its last durable files, one hidden file per event day,
sealed together.

Rows are written to a day's hidden file (``.part-<p>-<first>.parquet.tmp``) a row group
at a time, so a flush holds at most a row group of each day in memory however many
events it takes. :meth:`Flush.seal` makes it durable: every day's file is closed (its
footer records the flush's days) and fsynced, then each is renamed into place as
``part-<p>-<first>-<last>.parquet`` and the directories are fsynced. Only then may the
partition's offset be committed. A reader never sees a partial file; a crash between
two renames leaves a flush with fewer files than its footer names, which
:mod:`stream.archive.resume` recognises and removes.

>>> import tempfile
>>> from stream.domain.archive_reader import ArchiveReader
>>> root = Path(tempfile.mkdtemp())
>>> flush = Flush(root, partition=2, first=40, day_offset_ms=0)
>>> flush.add(Event("f:1", "u1", "i1", "view", 1454284800000), kafka_ts=1764400000000, offset=40)
>>> flush.skip(41)                                  # a message that failed validation
>>> flush.add(Event("f:2", "u1", "i1", "addtocart", 1454371200000), kafka_ts=1764400000001, offset=42)
>>> sorted(str(p.relative_to(root)) for p in flush.seal())
['date=2016-02-01/part-2-40-42.parquet', 'date=2016-02-02/part-2-40-42.parquet']
>>> [e.event_id for e in ArchiveReader([root])]
['f:1', 'f:2']
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from stream.domain.archive_layout import (
    ARCHIVE_SCHEMA,
    DAY_OFFSET_KEY,
    FLUSH_DAYS_KEY,
    PartName,
    day_dir_name,
    event_day,
    temp_name,
)
from stream.domain.events import Event

__all__ = ["Flush", "DayFile", "archive_events", "fsync_dir", "ROW_GROUP_ROWS"]

#: rows a day's file takes in memory before they are written as one row group
ROW_GROUP_ROWS = 65_536
COMPRESSION = "zstd"


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (created, renamed, removed files) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DayFile:
    """One day of a flush: rows in memory up to a row group, then in a hidden file."""

    def __init__(self, directory: Path, partition: int, first: int, day_offset_ms: int, row_group_rows: int):
        self.directory = directory
        self.temp = directory / temp_name(partition, first)
        self.row_group_rows = row_group_rows
        self.schema = ARCHIVE_SCHEMA.with_metadata({DAY_OFFSET_KEY: str(day_offset_ms).encode()})
        self.pending: list[tuple[Any, ...]] = []
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def add(self, row: tuple[Any, ...]) -> None:
        self.pending.append(row)
        self.rows += 1
        if len(self.pending) >= self.row_group_rows:
            self.write_row_group()

    def write_row_group(self) -> None:
        if not self.pending:
            return
        if self._writer is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.temp, self.schema, compression=COMPRESSION)
        columns = zip(*self.pending)
        arrays = [pa.array(values, type=f.type) for values, f in zip(columns, self.schema)]
        self._writer.write_table(
            pa.Table.from_arrays(arrays, schema=self.schema), row_group_size=len(self.pending)
        )
        self.pending = []

    def close(self, flush_days: str) -> None:
        """The rest written, the flush's days in the footer, the file fsynced."""
        self.write_row_group()
        assert self._writer is not None, "a day file holds at least one row"
        self._writer.add_key_value_metadata({FLUSH_DAYS_KEY: flush_days.encode()})
        self._writer.close()
        self._writer = None
        with open(self.temp, "rb") as fh:
            os.fsync(fh.fileno())

    def abort(self) -> None:
        """Drop the rows and the hidden file."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        self.temp.unlink(missing_ok=True)
        self.pending = []


class Flush:
    """What partition ``partition`` delivered from offset ``first`` on, until sealed."""

    def __init__(
        self,
        root: Path,
        partition: int,
        first: int,
        day_offset_ms: int,
        opened_at: float = 0.0,
        row_group_rows: int = ROW_GROUP_ROWS,
    ):
        self.root = root
        self.partition = partition
        self.first = first
        self.last = first - 1  # the last offset taken, valid or not
        self.day_offset_ms = day_offset_ms
        self.opened_at = opened_at
        self.row_group_rows = row_group_rows
        self.days: dict[str, DayFile] = {}
        self.rows = 0

    def add(self, event: Event, kafka_ts: int, offset: int) -> None:
        """A valid event, read at ``offset``."""
        day = event_day(event.ts, self.day_offset_ms)
        part = self.days.get(day)
        if part is None:
            part = self.days[day] = DayFile(
                self.root / day_dir_name(day),
                self.partition,
                self.first,
                self.day_offset_ms,
                self.row_group_rows,
            )
        part.add(event + (kafka_ts, self.partition, offset))
        self.rows += 1
        self.last = offset

    def skip(self, offset: int) -> None:
        """A message that is not archived (it failed validation): its offset is covered."""
        self.last = offset

    @property
    def name(self) -> PartName:
        return PartName(self.partition, self.first, self.last)

    def seal(self) -> list[Path]:
        """Make the flush durable; returns its files (none when it holds no event). After
        this the partition's offset ``last + 1`` may be committed."""
        if not self.days:
            return []
        days = ",".join(sorted(self.days))
        for part in self.days.values():
            part.close(days)
        fsync_dir(self.root)  # the day directories this flush may have created
        done = []
        for part in self.days.values():
            path = part.directory / self.name.file
            os.replace(part.temp, path)
            done.append(path)
        for part in self.days.values():
            fsync_dir(part.directory)
        return done

    def abort(self) -> None:
        """Forget the flush: its hidden files are removed and nothing is committed, so the
        partition's next owner reads its events again."""
        for part in self.days.values():
            part.abort()
        self.days.clear()


def archive_events(
    root: Path, events: Iterable[Event], day_offset_ms: int = 0, partition: int = 0, first_offset: int = 0
) -> list[Path]:
    """Write ``events`` into the archive at ``root`` as one flush of ``partition`` (offsets
    from ``first_offset``, Kafka timestamps = event times): an archive made from a file."""
    flush = Flush(root, partition, first_offset, day_offset_ms)
    for k, event in enumerate(events):
        flush.add(event, event.ts, first_offset + k)
    return flush.seal()
