"""Readers that turn clickstream files into :class:`~stream.events.Event` streams.

Formats (plain or gzipped, detected from the header unless given):

* ``canonical``: ``timestamp,user_id,item_id,event_type[,category_id]``; timestamp in
  epoch milliseconds or ISO 8601 (UTC unless it carries an offset).
* ``retailrocket``: ``timestamp,visitorid,event,itemid,transactionid`` (epoch ms).
* ``jdata``: JD.com 2016 actions ``user_id,sku_id,time,model_id,type,cate,brand``; time
  is China time (UTC+8). Types 1 (browse) and 6 (click) are ``view``, 2 ``addtocart``,
  4 ``transaction``; 3 (remove from cart) and 5 (follow) are dropped and counted.

A directory stands for the action files inside it (``JData_Action_*`` for jdata,
``*.csv``/``*.csv.gz`` otherwise), read in name order. Each file is stably sorted by
event time, so a replay and an offline pass see every user's events in the same order.
Event ids are deterministic (``<file stem>:<row>``): a replay of the same file twice is
deduplicated downstream. The file stem is also the event's ``source``.

>>> import io
>>> rows = read_text(io.StringIO("timestamp,user_id,item_id,event_type\\n1454284800000,u1,i1,view\\n"), "x")
>>> [(e.user_id, e.type, e.ts) for e in rows.events]
[('u1', 'view', 1454284800000)]
"""
from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, TextIO

from stream.events import EVENT_TYPES, Event

__all__ = ["FORMATS", "ReadResult", "read_clickstream", "read_text", "detect_format", "expand_paths"]

FORMATS = ("canonical", "retailrocket", "jdata")
CHINA = timezone(timedelta(hours=8))
JDATA_TYPES = {"1": "view", "6": "view", "2": "addtocart", "4": "transaction"}
JDATA_DROPPED = {"3": "jdata_remove_from_cart", "5": "jdata_follow"}


class ClickstreamError(ValueError):
    """A file that cannot be read as a clickstream (missing, unknown format)."""


@dataclass
class ReadResult:
    """Events read, in replay order, and the rows skipped by reason."""

    events: list[Event] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    files: list[Path] = field(default_factory=list)

    def extend(self, other: "ReadResult") -> None:
        self.events.extend(other.events)
        self.skipped.update(other.skipped)
        self.files.extend(other.files)


def _open(path: Path) -> TextIO:
    raw = path.open("rb")
    head = raw.read(2)
    raw.seek(0)
    stream = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")


def detect_format(header: list[str]) -> str:
    cols = [c.strip().lower() for c in header]
    if cols[:3] == ["user_id", "sku_id", "time"]:
        return "jdata"
    if cols[:4] == ["timestamp", "visitorid", "event", "itemid"]:
        return "retailrocket"
    if cols[:4] == ["timestamp", "user_id", "item_id", "event_type"]:
        return "canonical"
    raise ClickstreamError(f"unrecognised clickstream header: {','.join(header)[:120]}")


def _epoch_ms(text: str) -> int:
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def _jdata_ms(text: str) -> int:
    dt = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    return int(dt.timestamp() * 1000)


def _clean_id(text: str) -> str:
    # JD user ids are float strings ("266079.0").
    text = text.strip()
    return text[:-2] if text.endswith(".0") else text


def read_text(handle: TextIO, stem: str, fmt: str | None = None, sort: bool = True) -> ReadResult:
    """Read one opened clickstream; ``stem`` prefixes the event ids. ``sort=False`` keeps
    the file's own order (``intent quality`` measures how late rows arrive in it)."""
    reader = csv.reader(handle)
    result = ReadResult()
    try:
        header = next(reader)
    except StopIteration:
        return result
    fmt = fmt or detect_format(header)
    if fmt not in FORMATS:
        raise ClickstreamError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt != detect_format(header):
        raise ClickstreamError(f"{stem}: header does not match format {fmt!r}")
    for row_no, row in enumerate(reader, start=1):
        try:
            event = _row_event(fmt, row, f"{stem}:{row_no}", stem)
        except (ValueError, IndexError):
            result.skipped["malformed_row"] += 1
            continue
        if isinstance(event, str):
            result.skipped[event] += 1
        else:
            result.events.append(event)
    if sort:
        result.events.sort(key=lambda e: e.ts)  # stable: ties keep file order
    return result


def _row_event(fmt: str, row: list[str], event_id: str, source: str) -> Event | str:
    if fmt == "jdata":
        etype = JDATA_TYPES.get(row[4].strip())
        if etype is None:
            return JDATA_DROPPED.get(row[4].strip(), "unknown_type")
        cate = row[5].strip() if len(row) > 5 and row[5].strip() else None
        return Event(event_id, _clean_id(row[0]), _clean_id(row[1]), etype, _jdata_ms(row[2]), cate,
                     source=source)
    if fmt == "retailrocket":
        etype = row[2].strip()
        if etype not in EVENT_TYPES:
            return "unknown_type"
        return Event(event_id, row[1].strip(), row[3].strip(), etype, _epoch_ms(row[0]), source=source)
    etype = row[3].strip()
    if etype not in EVENT_TYPES:
        return "unknown_type"
    cate = row[4].strip() if len(row) > 4 and row[4].strip() else None
    return Event(event_id, row[1].strip(), row[2].strip(), etype, _epoch_ms(row[0]), cate, source=source)


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


def read_clickstream(paths: Iterable[str | Path], fmt: str | None = None, sort: bool = True) -> ReadResult:
    """Read every file of a data set, in replay order (each file in its own order with
    ``sort=False``)."""
    result = ReadResult()
    for path in expand_paths(paths):
        stem = path.name.split(".")[0]
        with _open(path) as handle:
            part = read_text(handle, stem, fmt, sort)
        part.files.append(path)
        result.extend(part)
    return result
