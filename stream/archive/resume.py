"""Where a partition's archive ends: the next offset to archive, read from the files.

The archiver commits a partition's offset only after a flush's files are durable, so
the committed offset can lag the files (a crash after the renames, before the commit)
but never run ahead of them. When it takes a partition it therefore looks at the files
too, and reads on from whichever is further: without this, a crash between the
renames and the commit would archive those events twice.

The files of one flush all carry its offsets in their name and its days in their
footers, so a flush whose renames a crash cut short (some days' files in place, not
all) is recognised: it was never committed, its files are removed, and its events are
read again. Flushes of a partition are sealed one after the other, so only the latest
can be incomplete. Hidden files in the making are removed as well.

>>> import tempfile
>>> from stream.archive.flush import archive_events
>>> from stream.domain.events import Event
>>> root = Path(tempfile.mkdtemp())
>>> _ = archive_events(root, [Event("f:1", "u", "i", "view", 1454284800000)], partition=1, first_offset=7)
>>> resume_partitions(root, [0, 1])
{0: Resume(next_offset=None, removed=[]), 1: Resume(next_offset=8, removed=[])}
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import pyarrow.parquet as pq

from stream.archive.flush import fsync_dir
from stream.domain.archive_layout import DAY_OFFSET_KEY, FLUSH_DAYS_KEY, PartName, day_of_dir

__all__ = ["Resume", "resume_partitions", "start_offset", "archive_day_offset"]


class Resume(NamedTuple):
    """A partition's archive: one past its last archived offset (None: nothing
    archived), and the files of an incomplete flush that were removed."""

    next_offset: int | None
    removed: list[Path]


def resume_partitions(root: Path, partitions: Iterable[int]) -> dict[int, Resume]:
    """Each partition's :class:`Resume`, its hidden and incomplete files removed."""
    wanted = set(partitions)
    flushes: dict[int, dict[tuple[int, int], list[Path]]] = {p: {} for p in wanted}
    touched: set[Path] = set()
    days = [d for d in root.iterdir() if day_of_dir(d) is not None and d.is_dir()] if root.is_dir() else []
    for directory in days:
        for file in directory.iterdir():
            if file.name.startswith(".part-") and file.name.endswith(".parquet.tmp"):
                if int(file.name.split("-")[1]) in wanted:  # a file in the making: never committed
                    file.unlink(missing_ok=True)
                    touched.add(directory)
                continue
            name = PartName.parse(file.name)
            if name is not None and name.partition in wanted:
                flushes[name.partition].setdefault((name.first, name.last), []).append(file)
    out: dict[int, Resume] = {}
    for partition, found in flushes.items():
        removed: list[Path] = []
        next_offset = None
        for first, last in sorted(found, key=lambda k: k[1], reverse=True):
            files = found[(first, last)]
            if _complete(files):
                next_offset = last + 1
                break
            for file in files:  # cut short by a crash between its renames: never committed
                file.unlink(missing_ok=True)
                touched.add(file.parent)
                removed.append(file)
        out[partition] = Resume(next_offset, removed)
    for directory in touched:
        fsync_dir(directory)
    return out


def _complete(files: list[Path]) -> bool:
    """Whether every day a flush's footer names has its file."""
    recorded = pq.read_metadata(files[0]).metadata or {}
    days = set(recorded.get(FLUSH_DAYS_KEY, b"").decode().split(","))
    return days <= {day_of_dir(f.parent) for f in files}


def start_offset(committed: int | None, archived: int | None) -> int | None:
    """Where to read a partition from: after its commit or its archive, whichever is
    further (None: neither, so the group's reset policy decides).

    >>> start_offset(100, None), start_offset(100, 250), start_offset(300, 250), start_offset(None, None)
    (100, 250, 300, None)
    """
    known = [o for o in (committed, archived) if o is not None]
    return max(known) if known else None


def archive_day_offset(root: Path) -> int | None:
    """Where the days of the archive at ``root`` start (ms from UTC midnight), read from
    one of its files; None for an archive with no file yet."""
    if not root.is_dir():
        return None
    for directory in sorted(root.iterdir()):
        if day_of_dir(directory) is None or not directory.is_dir():
            continue
        for file in directory.iterdir():
            if PartName.parse(file.name) is not None:
                return int((pq.read_metadata(file).metadata or {})[DAY_OFFSET_KEY])
    return None
