"""A time window of events, ``[since, until)``, as ``--since`` and ``--until`` give it.

A bound is a date (``2017-11-25``: that day's start), an ISO time (``2017-11-25T10:00``),
or either with an offset (``2017-11-25T10:00+08:00``, ``...Z``). A bound without an
offset is read in the data's own calendar (the day offset of its format, or the
archive's time zone), the calendar training splits by: ``--since 2017-11-25`` on
Taobao's file starts at midnight China time. A bound with an offset is that instant.
The window is half-open, so consecutive windows never share an event.

>>> w = TimeWindow.parse("2016-02-01", "2016-02-02")
>>> lo, hi = w.bounds(day_offset_ms=-8 * 3_600_000)    # China time
>>> lo, hi - lo
(1454256000000, 86400000)
>>> w.bounds(0)[0]                                       # UTC
1454284800000
>>> TimeWindow.parse("2016-02-01T00:00:00+08:00", None).bounds(0) == (1454256000000, NO_END)
True
>>> TimeWindow.parse("2016-02-02", "2016-02-01")
Traceback (most recent call last):
...
ValueError: --until 2016-02-01 is not after --since 2016-02-02
>>> TimeWindow.parse("yesterday", None)
Traceback (most recent call last):
...
ValueError: --since: not a date or an ISO time: 'yesterday'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

__all__ = ["TimeWindow", "WindowedPaths", "NO_START", "NO_END"]

NO_START, NO_END = -(2**63), 2**63 - 1


class Bound(NamedTuple):
    """One end of a window: epoch ms, and whether it is in the data's calendar (no offset
    given) rather than an instant."""

    ms: int
    local: bool
    text: str

    @classmethod
    def parse(cls, text: str, flag: str) -> Bound:
        try:
            at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{flag}: not a date or an ISO time: {text!r}") from None
        local = at.tzinfo is None
        return cls(
            int(at.replace(tzinfo=UTC).timestamp() * 1000) if local else int(at.timestamp() * 1000),
            local,
            text,
        )

    def at(self, day_offset_ms: int) -> int:
        """Epoch ms, the data's day starting ``day_offset_ms`` from UTC midnight."""
        return self.ms + day_offset_ms if self.local else self.ms


@dataclass(frozen=True)
class TimeWindow:
    """Events with ``since <= ts < until``; a missing bound is open."""

    since: Bound | None = None
    until: Bound | None = None

    @classmethod
    def parse(cls, since: str | None, until: str | None) -> TimeWindow | None:
        """The window of ``--since`` / ``--until`` (None when neither is given)."""
        if since is None and until is None:
            return None
        window = cls(
            None if since is None else Bound.parse(since, "--since"),
            None if until is None else Bound.parse(until, "--until"),
        )
        lo, hi = window.bounds(0)
        if window.since and window.until and window.since.local == window.until.local and hi <= lo:
            raise ValueError(f"--until {until} is not after --since {since}")
        return window

    def bounds(self, day_offset_ms: int) -> tuple[int, int]:
        """``(since, until)`` in epoch ms for data whose day starts ``day_offset_ms`` from UTC
        midnight (open ends: :data:`NO_START`, :data:`NO_END`)."""
        lo = NO_START if self.since is None else self.since.at(day_offset_ms)
        hi = NO_END if self.until is None else self.until.at(day_offset_ms)
        return lo, hi

    def __str__(self) -> str:
        since = self.since.text if self.since else "the start"
        until = self.until.text if self.until else "the end"
        return f"[{since}, {until})"


class WindowedPaths(list[str | Path]):
    """Clickstream paths and the window to read them in: a list of the paths, so it goes
    wherever paths go (``intent train`` and ``intent evaluate`` hand theirs to
    :func:`~stream.domain.readers.read_clickstream` as they are), and the reader applies
    the window it carries.

    >>> data = WindowedPaths(["archive"], TimeWindow.parse("2016-02-01", None))
    >>> list(data), str(data.window)
    (['archive'], '[2016-02-01, the end)')
    """

    def __init__(self, paths: Iterable[str | Path], window: TimeWindow | None) -> None:
        super().__init__(paths)
        self.window = window
