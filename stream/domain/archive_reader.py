"""The event archive read back as :class:`~stream.domain.events.Event` s, day by day.

An archive (:mod:`stream.domain.archive_layout`) is read one day directory at a time,
in date order, and each file one row group at a time (only the event's columns; a row
group whose event times all lie outside the window is not read), so memory grows with
a day's events, never with the archive. Each day comes out sorted by event time, ties
in the order of the events' ids, ``<source>:<row>`` by source then row number: for a
file that our readers turned into events, that is the file readers' own order (a file
stably sorted by event time, files of a directory in name order), whatever partitions
and files the events went through. So the same data gives the same events, in the same
order, from the file and from the archive of its replay. (A directory of files whose
times overlap is read file after file by the file readers; the archive orders each day
as a whole, so there the order differs, not the events.)

>>> events = [Event(i, "u", "i", "view", ts) for i, ts in [("f:10", 5), ("f:9", 5), ("g:1", 5), ("f:11", 4)]]
>>> [e.event_id for e in sorted(events, key=event_order)]
['f:11', 'f:9', 'f:10', 'g:1']

``intent archive`` (:mod:`stream.archive`) writes archives; its docstring reads one back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow.parquet as pq

from stream.domain.archive_layout import (
    DAY_MS,
    DAY_OFFSET_KEY,
    EVENT_COLUMNS,
    PartName,
    day_of_dir,
    day_start_ms,
)
from stream.domain.events import Event
from stream.domain.readers import ClickstreamError
from stream.domain.window import NO_END, NO_START, TimeWindow

__all__ = ["ArchiveReader", "ArchiveEvents", "event_order", "is_archive"]

_new_tuple = tuple.__new__


def event_order(event: Event) -> tuple[int, str, int]:
    """The archive's order: event time, then the id (``<source>:<row>`` by row number)."""
    source, _, row = event.event_id.rpartition(":")
    if source and row.isascii() and row.isdigit():
        return event.ts, source, int(row)
    return event.ts, event.event_id, -1


def is_archive(path: str | Path) -> bool:
    """Whether ``path`` is an archive, one of its day directories, or one of its files."""
    p = Path(path)
    if p.is_file():
        return PartName.parse(p.name) is not None
    if not p.is_dir():
        return False
    if day_of_dir(p) is not None:
        return any(PartName.parse(f.name) for f in p.iterdir())
    return any(day_of_dir(d) is not None and d.is_dir() for d in p.iterdir())


class ArchiveReader:
    """The events of archive paths (the archive, day directories or files) within
    ``window``; iterate for the events, day after day (each day sorted unless
    ``sort=False``: then in file and offset order). ``files`` are the files read, in
    order; ``day_offset_ms`` where the archive's day starts."""

    def __init__(self, paths: Sequence[str | Path], window: TimeWindow | None = None, sort: bool = True):
        self.sort = sort
        days = _collect(paths)
        first = next((files[0] for files in days.values() if files), None)
        self.day_offset_ms = 0 if first is None else _day_offset(first)
        self.lo, self.hi = (NO_START, NO_END) if window is None else window.bounds(self.day_offset_ms)
        self.days = {
            day: files
            for day, files in sorted(days.items())
            if self.lo < day_start_ms(day, self.day_offset_ms) + DAY_MS
            and day_start_ms(day, self.day_offset_ms) < self.hi
        }
        self.files = [f for files in self.days.values() for f in files]

    def __iter__(self) -> Iterator[Event]:
        for day in self.days:
            yield from self.read_day(day)

    def read_day(self, day: str) -> list[Event]:
        """One day's events within the window."""
        events: list[Event] = []
        for path in self.days[day]:
            events.extend(self._read_file(path))
        if self.sort:
            events.sort(key=event_order)
        return events

    def _read_file(self, path: Path) -> Iterator[Event]:
        parquet = pq.ParquetFile(path)
        if _day_offset(path, parquet) != self.day_offset_ms:
            raise ClickstreamError(f"{path}: written with another day offset than the archive's other files")
        ts_column = parquet.schema_arrow.get_field_index("ts")
        lo, hi, windowed = self.lo, self.hi, (self.lo, self.hi) != (NO_START, NO_END)
        for k in range(parquet.num_row_groups):
            stats = parquet.metadata.row_group(k).column(ts_column).statistics
            if windowed and stats is not None and stats.has_min_max and (stats.max < lo or stats.min >= hi):
                continue  # the row group's times all lie outside the window
            table = parquet.read_row_group(k, columns=list(EVENT_COLUMNS))
            columns = [table.column(name).to_pylist() for name in EVENT_COLUMNS]
            for row in zip(*columns):
                # tuple.__new__: Event(*row) without the named tuple's generated __new__
                event: Event = _new_tuple(Event, row)
                if not windowed or lo <= event.ts < hi:
                    yield event


class ArchiveEvents:
    """An archive's events as a collection that is read from disk again on every pass:
    iterating it streams the archive day by day (:class:`ArchiveReader`), so holding it
    holds no event, and a process forked or shipped (pickled: the paths and the window)
    reads the files itself. ``len`` is known after a first pass (or counts the events in
    one) and is remembered. What a training run replays twice (look-ahead, then
    replay) costs two reads of the archive, never its events in memory.
    """

    def __init__(self, reader: ArchiveReader):
        self.reader = reader
        self._len: int | None = None

    def __iter__(self) -> Iterator[Event]:
        n = 0
        for event in self.reader:
            n += 1
            yield event
        self._len = n

    def __len__(self) -> int:
        """The number of events (counted once, then remembered)."""
        if self._len is None:
            self._len = sum(1 for _ in self)
        return self._len

    def __getitem__(self, k: int) -> Event:
        raise TypeError("an archive's events are read in order (iterate them), not by index")


def _day_offset(path: Path, parquet: pq.ParquetFile | None = None) -> int:
    metadata = (parquet.metadata if parquet is not None else pq.read_metadata(path)).metadata or {}
    if DAY_OFFSET_KEY not in metadata:
        raise ClickstreamError(f"{path}: not a file of an event archive (no day offset in its footer)")
    return int(metadata[DAY_OFFSET_KEY])


def _collect(paths: Sequence[str | Path]) -> dict[str, list[Path]]:
    """Day -> its files (partition, then offset order), from archive paths."""
    found: dict[str, list[tuple[PartName, Path]]] = {}

    def add(day: str, file: Path) -> None:
        name = PartName.parse(file.name)
        if name is not None:
            found.setdefault(day, []).append((name, file))

    for p in map(Path, paths):
        day = day_of_dir(p.parent if p.is_file() else p)
        if p.is_file() and day is not None and PartName.parse(p.name):
            add(day, p)
        elif p.is_dir() and day is not None:
            for f in p.iterdir():
                add(day, f)
        elif p.is_dir():
            for d in p.iterdir():
                if (d_day := day_of_dir(d)) is not None and d.is_dir():
                    for f in d.iterdir():
                        add(d_day, f)
        else:
            raise ClickstreamError(f"{p}: not an event archive, nor a day or file of one")
    if not found:
        raise ClickstreamError(f"no archive files in {', '.join(map(str, paths))}")
    return {day: [f for _, f in sorted(set(files))] for day, files in found.items()}
