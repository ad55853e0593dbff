"""The event archive on disk: directories by event day, file names, columns.

``intent archive`` writes, and the archive reader reads, this one layout::

    ARCHIVE/date=2016-02-01/part-<partition>-<first offset>-<last offset>.parquet

Each file holds valid ``events`` messages of one Kafka partition whose event time falls
on that day (the archive's time zone, ``INTENT_ARCHIVE_UTC_OFFSET_H``), in offset order:
the event contract's fields (:class:`~stream.domain.events.Event`), then the message's
Kafka timestamp, partition and offset. The offsets in a name are those of the whole
*flush* the file belongs to: everything one partition delivered between two commits,
written as one file per day it touched, all with the same name. Every file's footer
records the flush's days (so a flush cut short by a crash is recognised) and the day
offset (so a reader splits days as the archive did). Files in the making are hidden:
``.part-<partition>-<first offset>.parquet.tmp``.

>>> name = PartName(3, 1200, 2399)
>>> name.file, PartName.parse(name.file) == name
('part-3-1200-2399.parquet', True)
>>> PartName.parse(".part-3-1200.parquet.tmp") is None
True
>>> event_day(1454284800000, day_offset_ms=0), event_day(1454284800000, day_offset_ms=-8 * 3_600_000)
('2016-02-01', '2016-02-01')
>>> event_day(1454284800000 - 1, 0), event_day(1454284800000 - 1, -8 * 3_600_000)
('2016-01-31', '2016-02-01')
>>> day_start_ms("2016-02-01", -8 * 3_600_000) == 1454284800000 - 8 * 3_600_000
True
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa

from stream.domain.events import Event

__all__ = [
    "ARCHIVE_SCHEMA",
    "EVENT_COLUMNS",
    "DAY_OFFSET_KEY",
    "FLUSH_DAYS_KEY",
    "PartName",
    "event_day",
    "day_start_ms",
    "day_dir_name",
    "day_of_dir",
    "temp_name",
    "DAY_MS",
]

DAY_MS = 86_400_000
#: the event contract's fields, as :class:`Event` orders them
EVENT_COLUMNS: tuple[str, ...] = Event._fields
_STRING = pa.string()
ARCHIVE_SCHEMA = pa.schema(
    [
        pa.field("event_id", _STRING, nullable=False),
        pa.field("user_id", _STRING, nullable=False),
        pa.field("item_id", _STRING, nullable=False),
        pa.field("type", _STRING, nullable=False),
        pa.field("ts", pa.int64(), nullable=False),  # event time, epoch ms (the contract's)
        pa.field("category_id", _STRING),
        pa.field("price", pa.float64()),
        pa.field("session_id", _STRING),
        pa.field("source", _STRING),
        pa.field("brand", _STRING),
        pa.field("kafka_ts", pa.int64(), nullable=False),  # when it was written to events, epoch ms
        pa.field("partition", pa.int32(), nullable=False),
        pa.field("offset", pa.int64(), nullable=False),
    ]
)
assert tuple(ARCHIVE_SCHEMA.names[: len(EVENT_COLUMNS)]) == EVENT_COLUMNS
#: footer keys: where the archive's day starts (ms from UTC midnight), and a flush's days
DAY_OFFSET_KEY, FLUSH_DAYS_KEY = b"intent.day_offset_ms", b"intent.flush_days"
_PART = re.compile(r"part-(\d+)-(\d+)-(\d+)\.parquet")
_DAY_DIR = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


class PartName(NamedTuple):
    """A durable file's name: its partition and its flush's first and last offsets."""

    partition: int
    first: int
    last: int

    @property
    def file(self) -> str:
        return f"part-{self.partition}-{self.first}-{self.last}.parquet"

    @classmethod
    def parse(cls, name: str) -> PartName | None:
        """The name's parts, or None for any other file (temporary files included)."""
        m = _PART.fullmatch(name)
        return None if m is None else cls(int(m[1]), int(m[2]), int(m[3]))


def temp_name(partition: int, first: int) -> str:
    """The hidden name a flush's file has until it is durable."""
    return f".part-{partition}-{first}.parquet.tmp"


def event_day(ts_ms: int, day_offset_ms: int) -> str:
    """The calendar day (``YYYY-MM-DD``) of an event time, days starting ``day_offset_ms``
    from UTC midnight."""
    return _day_text((ts_ms - day_offset_ms) // DAY_MS)


@lru_cache(maxsize=4096)
def _day_text(days: int) -> str:  # the writer asks once an event
    return datetime.fromtimestamp(days * 86_400, UTC).strftime("%Y-%m-%d")


def day_start_ms(day: str, day_offset_ms: int) -> int:
    """Epoch ms at which ``day`` starts."""
    midnight = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(midnight.timestamp()) * 1000 + day_offset_ms


def day_dir_name(day: str) -> str:
    return f"date={day}"


def day_of_dir(path: Path) -> str | None:
    """The day of a ``date=YYYY-MM-DD`` directory, None for any other."""
    m = _DAY_DIR.fullmatch(path.name)
    return None if m is None else m[1]
