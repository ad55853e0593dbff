"""Readers that turn clickstream files into :class:`~stream.domain.events.Event` streams.

Formats (plain or gzipped, detected from the first row unless given):

* ``canonical``: a header that starts ``timestamp,user_id,item_id,event_type`` (any
  type of :data:`~stream.domain.events.EVENT_TYPES`), then optional columns read by name:
  ``category_id``, ``price``, ``session_id``, ``source``, ``brand`` (other columns are
  ignored, so a personal field never reaches an event). Timestamp in epoch milliseconds
  or ISO 8601 (UTC unless it carries an offset).
* ``retailrocket``: ``timestamp,visitorid,event,itemid,transactionid`` (epoch ms).
* ``jdata``: JD.com 2016 actions ``user_id,sku_id,time,model_id,type,cate,brand``; time
  is China time (UTC+8). Types 1 browse -> ``view``, 6 click -> ``click``, 2 ->
  ``addtocart``, 3 -> ``remove_from_cart``, 4 order -> ``transaction``, 5 follow ->
  ``favorite``.
* ``taobao``: Alibaba's UserBehavior, no header: ``user_id,item_id,category_id,
  behavior,timestamp`` with ``pv``, ``cart``, ``fav``, ``buy`` and Unix seconds.

A format may know the time range its data set was published for (:data:`TIME_RANGES`):
a row outside it is a real defect of the data (Taobao's file has 35, from as early as
2017-09-11); it is skipped and counted as ``out_of_range``, never fatal. Any row that
cannot be read is skipped and counted by reason, too.

* ``parquet``: an event archive written by ``intent archive`` (a directory of
  ``date=YYYY-MM-DD/part-*.parquet`` files; detected from its layout), read by
  :class:`~stream.domain.archive_reader.ArchiveReader` day by day.

A :class:`~stream.domain.window.TimeWindow` (``--since`` / ``--until``) keeps the events
of a time range (:class:`~stream.domain.window.WindowedPaths` carries one with the paths).

A directory stands for the action files inside it (``JData_Action_*`` for jdata,
``*.csv``/``*.csv.gz`` otherwise), read in name order. Each file is stably sorted by
event time, so a replay and an offline pass see every user's events in the same order.
Event ids are deterministic (``<file stem>:<row>``): a replay of the same file twice is
deduplicated downstream. The file stem is also the event's ``source`` (unless a
canonical file has a ``source`` column).

>>> import io
>>> text = "timestamp,user_id,item_id,event_type,price\\n1454284800000,u1,i1,view,9.5\\n"
>>> rows = read_text(io.StringIO(text), "x")
>>> [(e.user_id, e.type, e.ts, e.price) for e in rows.events]
[('u1', 'view', 1454284800000, 9.5)]
>>> text = "1,2268318,2520377,pv,1511544070\\n1,2268318,2520377,buy,1505118999\\n"
>>> rows = read_text(io.StringIO(text), "t")
>>> [(e.type, e.ts) for e in rows.events], dict(rows.skipped)
([('view', 1511544070000)], {'out_of_range': 1})
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TextIO

from stream.domain.events import EVENT_TYPES, Event
from stream.domain.window import TimeWindow

__all__ = [
    "FORMATS",
    "TIME_RANGES",
    "DAY_OFFSETS_MS",
    "ClickstreamError",
    "ReadResult",
    "read_clickstream",
    "read_text",
    "detect_format",
    "expand_paths",
    "ARCHIVE",
]

#: the text formats, then the event archive's
FORMATS = ("canonical", "retailrocket", "jdata", "taobao", "parquet")
ARCHIVE = "parquet"
CHINA = timezone(timedelta(hours=8))
JDATA_TYPES = {
    "1": "view",
    "6": "click",
    "2": "addtocart",
    "3": "remove_from_cart",
    "4": "transaction",
    "5": "favorite",
}
TAOBAO_TYPES = {"pv": "view", "cart": "addtocart", "fav": "favorite", "buy": "transaction"}
CANONICAL_HEADER = ["timestamp", "user_id", "item_id", "event_type"]
#: Optional canonical columns, by header name, and how each is read.
OPTIONAL_COLUMNS = ("category_id", "price", "session_id", "source", "brand")


def _china_ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=CHINA).timestamp() * 1000)


#: [start, end) event time in epoch ms of the data set each format was published for.
TIME_RANGES: dict[str, tuple[int, int]] = {
    "taobao": (_china_ms(2017, 11, 25), _china_ms(2017, 12, 4)),  # its 9 days
}
#: Where a data set's calendar day starts, as an offset from UTC midnight (its local time).
DAY_OFFSETS_MS: dict[str, int] = {"taobao": -8 * 3_600_000, "jdata": -8 * 3_600_000}


class ClickstreamError(ValueError):
    """A file that cannot be read as a clickstream (missing, unknown format)."""


@dataclass
class ReadResult:
    """Events read, in replay order, and the rows skipped by reason."""

    #: a list; an archive read with ``stream=True``: :class:`~stream.domain.archive_reader.ArchiveEvents`
    events: list[Event] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    files: list[Path] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)  # per file
    day_offsets: list[int] = field(default_factory=list)  # per file: where its day starts

    def extend(self, other: ReadResult) -> None:
        self.events.extend(other.events)
        self.skipped.update(other.skipped)
        self.files.extend(other.files)
        self.formats.extend(other.formats)
        self.day_offsets.extend(other.day_offsets)

    @property
    def day_offset_ms(self) -> int:
        """Where the data's calendar day starts, from UTC midnight (its first file's: its
        format's, or the archive's time zone; UTC otherwise)."""
        return self.day_offsets[0] if self.day_offsets else 0


def _open(path: Path) -> TextIO:
    raw = path.open("rb")
    head = raw.read(2)
    raw.seek(0)
    stream = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")


def _is_taobao_row(cols: list[str]) -> bool:
    return len(cols) == 5 and cols[3] in TAOBAO_TYPES and all(cols[k].isdigit() for k in (0, 1, 2, 4))


def detect_format(first_row: list[str]) -> str:
    """The format whose header (or, for headerless Taobao, first row) this is."""
    cols = [c.strip().lower() for c in first_row]
    if cols[:3] == ["user_id", "sku_id", "time"]:
        return "jdata"
    if cols[:4] == ["timestamp", "visitorid", "event", "itemid"]:
        return "retailrocket"
    if cols[:4] == CANONICAL_HEADER:
        return "canonical"
    if _is_taobao_row(cols):
        return "taobao"
    raise ClickstreamError(f"unrecognised clickstream header: {','.join(first_row)[:120]}")


def _epoch_ms(text: str) -> int:
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _jdata_ms(text: str) -> int:
    dt = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    return int(dt.timestamp() * 1000)


def _clean_id(text: str) -> str:
    # JD user ids are float strings ("266079.0").
    text = text.strip()
    return text[:-2] if text.endswith(".0") else text


def _optional(text: str) -> str | None:
    text = text.strip()
    return text or None


class _BadRow(ValueError):
    """A row skipped for a named reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _price(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    price = float(text)
    if not math.isfinite(price) or price < 0:
        raise _BadRow("bad_price")
    return price


RowParser = Callable[[list[str], str, str], Event]


def _jdata_row(row: list[str], event_id: str, source: str) -> Event:
    etype = JDATA_TYPES.get(row[4].strip())
    if etype is None:
        raise _BadRow("unknown_type")
    cate = _optional(row[5]) if len(row) > 5 else None
    brand = _optional(row[6]) if len(row) > 6 else None
    return Event(
        event_id,
        _clean_id(row[0]),
        _clean_id(row[1]),
        etype,
        _jdata_ms(row[2]),
        cate,
        source=source,
        brand=brand,
    )


def _retailrocket_row(row: list[str], event_id: str, source: str) -> Event:
    etype = row[2].strip()
    if etype not in EVENT_TYPES:
        raise _BadRow("unknown_type")
    return Event(event_id, row[1].strip(), row[3].strip(), etype, _epoch_ms(row[0]), source=source)


def _taobao_row(row: list[str], event_id: str, source: str) -> Event:
    etype = TAOBAO_TYPES.get(row[3].strip())
    if etype is None:
        raise _BadRow("unknown_type")
    return Event(
        event_id, row[0].strip(), row[1].strip(), etype, int(row[4]) * 1000, _optional(row[2]), source=source
    )


def _canonical_parser(header: list[str]) -> RowParser:
    """A row parser for a canonical file whose optional columns sit where its header says."""
    names = [c.strip().lower() for c in header]
    at = {name: names.index(name) for name in OPTIONAL_COLUMNS if name in names}

    def cell(row: list[str], name: str) -> str | None:
        k = at.get(name)
        return _optional(row[k]) if k is not None and k < len(row) else None

    def parse(row: list[str], event_id: str, source: str) -> Event:
        etype = row[3].strip()
        if etype not in EVENT_TYPES:
            raise _BadRow("unknown_type")
        price_at = at.get("price")
        price = _price(row[price_at]) if price_at is not None and price_at < len(row) else None
        return Event(
            event_id,
            row[1].strip(),
            row[2].strip(),
            etype,
            _epoch_ms(row[0]),
            cell(row, "category_id"),
            price,
            cell(row, "session_id"),
            cell(row, "source") or source,
            cell(row, "brand"),
        )

    return parse


_PARSERS: dict[str, RowParser] = {
    "jdata": _jdata_row,
    "retailrocket": _retailrocket_row,
    "taobao": _taobao_row,
}


def read_text(handle: TextIO, stem: str, fmt: str | None = None, sort: bool = True) -> ReadResult:
    """Read one opened clickstream; ``stem`` prefixes the event ids. ``sort=False`` keeps
    the file's own order (``intent quality`` measures how late rows arrive in it)."""
    reader = csv.reader(handle)
    result = ReadResult()
    try:
        first = next(reader)
    except StopIteration:
        return result
    if fmt is not None and fmt not in FORMATS:
        raise ClickstreamError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    found = detect_format(first)
    fmt = fmt or found
    if fmt != found:
        raise ClickstreamError(f"{stem}: header does not match format {fmt!r}")
    result.formats.append(fmt)
    result.day_offsets.append(DAY_OFFSETS_MS.get(fmt, 0))
    parse = _canonical_parser(first) if fmt == "canonical" else _PARSERS[fmt]
    rows: Iterable[tuple[int, list[str]]] = enumerate(reader, start=1)
    if fmt == "taobao":  # no header: the first row is data, and row numbers count it
        rows = enumerate([first, *reader], start=1)
    lo, hi = TIME_RANGES.get(fmt, (None, None))
    for row_no, row in rows:
        try:
            event = parse(row, f"{stem}:{row_no}", stem)
        except _BadRow as bad:
            result.skipped[bad.reason] += 1
            continue
        except (ValueError, IndexError, OverflowError):
            result.skipped["malformed_row"] += 1
            continue
        if lo is not None and not lo <= event.ts < hi:  # type: ignore[operator]
            result.skipped["out_of_range"] += 1
            continue
        result.events.append(event)
    if sort:
        result.events.sort(key=lambda e: e.ts)  # stable: ties keep file order
    return result


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, with directories expanded to their clickstream files (name order)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("JData_Action_*.csv*")) or sorted(
                f for f in p.iterdir() if f.name.endswith((".csv", ".csv.gz"))
            )
            if not found:
                raise ClickstreamError(f"{p}: no clickstream files in directory")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise ClickstreamError(f"{p}: no such file or directory")
    return out


def read_clickstream(
    paths: Iterable[str | Path],
    fmt: str | None = None,
    sort: bool = True,
    window: TimeWindow | None = None,
    stream: bool = False,
) -> ReadResult:
    """Read every file of a data set, in replay order (each file in its own order with
    ``sort=False``), keeping the events within ``window`` (or the window ``paths``
    carries, :class:`~stream.domain.window.WindowedPaths`). An event archive is read
    when ``fmt`` is ``parquet`` or the paths are one; with ``stream`` its events are not
    held but read from disk on every pass (:class:`~stream.domain.archive_reader.ArchiveEvents`:
    for a reader that only iterates them, such as training)."""
    window = window or getattr(paths, "window", None)
    paths = list(paths)
    if fmt == ARCHIVE or (fmt is None and paths and _archives(paths)):
        return _read_archive(paths, window, sort, stream)
    result = ReadResult()
    for path in expand_paths(paths):
        stem = path.name.split(".")[0]
        with _open(path) as handle:
            part = read_text(handle, stem, fmt, sort)
        part.files.append(path)
        if window is not None and part.day_offsets:
            lo, hi = window.bounds(part.day_offsets[0])
            part.events = [e for e in part.events if lo <= e.ts < hi]
        result.extend(part)
    return result


def _archives(paths: list[str | Path]) -> bool:
    """Whether ``paths`` are an event archive (all of them, or none: never a mix)."""
    from stream.domain.archive_reader import is_archive

    found = [is_archive(p) for p in paths]
    if any(found) and not all(found):
        raise ClickstreamError("an event archive cannot be read together with clickstream files")
    return all(found)


def _read_archive(paths: list[str | Path], window: TimeWindow | None, sort: bool, stream: bool) -> ReadResult:
    from stream.domain.archive_reader import ArchiveEvents, ArchiveReader  # pyarrow: imported when needed

    reader = ArchiveReader(paths, window, sort)
    return ReadResult(
        events=ArchiveEvents(reader) if stream else list(reader),  # type: ignore[arg-type]
        files=reader.files,
        formats=[ARCHIVE] * len(reader.files),
        day_offsets=[reader.day_offset_ms] * len(reader.files),
    )
