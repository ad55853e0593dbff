"""Data quality of the clickstream, measured event by event (pure; no Kafka).

:class:`QualityMonitor` looks at every valid, non-repeated event and counts, per event
type and source:

* completeness: the event carries every field the features use (``expected_fields``,
  by default the optional ``category_id`` and ``price``);
* lateness: ingest time (the Kafka timestamp) minus event time; later than
  ``late_grace_ms`` is *late*, and event time ahead of ingest time by more than
  ``future_tolerance_ms`` is *future* (clock skew). Without an ingest time (a file) the
  stream's own clock is used: the latest event time seen so far;
* outliers: price and the user's inter-event gap against a rolling mean and
  ``sigmas`` standard deviations (River's rolling statistics), and events per user per
  minute, which catches crawlers: a user whose count in the current minute passes both
  ``bot_min_per_minute`` and the rolling 3-sigma bound is marked as a bot.

Counts go to :attr:`QualityMonitor.totals` (what ``intent quality`` prints) and to
:meth:`QualityMonitor.take_pending`, which the worker flushes to Prometheus once per
batch (labelled counters are too costly to touch per event).

>>> from stream.domain.events import Event
>>> q = QualityMonitor(QualityConfig(late_grace_ms=60_000))
>>> q.observe(Event("e1", "u", "i", "view", 1_000_000, "c1", 9.9), ingest_ms=1_030_000).flags
frozenset()
>>> sorted(q.observe(Event("e2", "u", "i", "view", 1_000_000, "c1"), ingest_ms=1_200_000).flags)
['incomplete', 'late']
>>> q.totals[("missing", "price", "unknown")], q.totals[("late", "view", "unknown")]
(1, 1)
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from stream.config import Settings
from stream.domain.events import Event

__all__ = ["QualityConfig", "QualityMonitor", "Verdict", "RollingOutlier", "assess_events"]

MINUTE_MS = 60_000


@dataclass(frozen=True)
class QualityConfig:
    expected_fields: tuple[str, ...] = ("category_id", "price")
    late_grace_ms: int = 300_000  # the freshness target: 5 minutes
    future_tolerance_ms: int = 1_000
    sigmas: float = 3.0
    window: int = 1_000  # rolling window of the outlier statistics
    min_samples: int = 30  # no verdict before this many values
    bot_min_per_minute: int = 60  # JD logs several records per page view: 30 marked 70 users
    exclude_outliers: bool = False  # price outliers do not reach the feature state

    @classmethod
    def from_settings(cls, s: Settings) -> QualityConfig:
        return cls(
            expected_fields=tuple(f.strip() for f in s.quality_expected_fields.split(",") if f.strip()),
            late_grace_ms=int(s.late_grace_s * 1000),
            sigmas=s.outlier_sigmas,
            bot_min_per_minute=s.bot_min_per_minute,
            exclude_outliers=bool(s.exclude_outliers),
        )


class RollingOutlier:
    """``|x - mean| > sigmas * std`` over the last ``window`` values, then ``x`` is added.

    Mean and sample variance (ddof 1) over the window in one pass (Welford's update, and
    its inverse for the value leaving the window), as River's rolling ``Mean`` and
    ``Var`` compute them, without their two windows and two calls per value.

    >>> r = RollingOutlier(window=100, sigmas=3, min_samples=10)
    >>> [r.check(v) for v in [10, 11, 9, 10, 11, 9, 10, 11, 9, 10]][-1], r.check(50), r.check(10)
    (False, True, False)
    """

    def __init__(self, window: int, sigmas: float, min_samples: int) -> None:
        self.values: deque[float] = deque()
        self.window, self.sigmas, self.min_samples, self.n = window, sigmas, min_samples, 0
        self.mean, self._m2 = 0.0, 0.0

    @property
    def var(self) -> float:
        k = len(self.values)
        return self._m2 / (k - 1) if k > 1 else 0.0

    def add(self, x: float) -> None:
        if len(self.values) == self.window:
            old = self.values.popleft()
            k = len(self.values)
            if k:
                delta = old - self.mean
                self.mean -= delta / k
                self._m2 -= delta * (old - self.mean)
            else:
                self.mean, self._m2 = 0.0, 0.0
        self.values.append(x)
        delta = x - self.mean
        self.mean += delta / len(self.values)
        self._m2 += delta * (x - self.mean)
        self.n += 1

    def check(self, x: float) -> bool:
        flagged = False
        k = len(self.values)
        if self.n >= self.min_samples and k > 1:
            var = self._m2 / (k - 1)  # self.var, inlined: a gap is checked for most events
            if var > 0.0:
                flagged = abs(x - self.mean) > self.sigmas * math.sqrt(var)
        self.add(x)
        return flagged


@dataclass(frozen=True)
class Verdict:
    """What the monitor found in one event; ``exclude`` tells the worker to keep it out
    of the feature state (only with ``exclude_outliers``)."""

    flags: frozenset[str] = frozenset()
    exclude: bool = False


#: Users whose current minute is kept for the bot check, at most (about 150 bytes each).
USER_MINUTES = 200_000
_CLEAN = Verdict()  # most events: shared, not built per event


#: The flags a verdict may carry, each a bit of the key its verdict is cached under.
_FLAGS = ("incomplete", "late", "future", "outlier_price", "outlier_gap", "outlier_events_per_user_minute")
INCOMPLETE, LATE, FUTURE, OUTLIER_PRICE, OUTLIER_GAP, OUTLIER_RATE = (1 << k for k in range(len(_FLAGS)))
# A (type, source) record: events, complete, late, future, then one count per expected field missing.
_EVENTS, _COMPLETE, _LATE, _FUTURE, _MISSING = range(5)


class QualityMonitor:
    """See the module docstring; one per worker (state is per process, not changelogged)."""

    def __init__(self, config: QualityConfig = QualityConfig()) -> None:
        self.config = config
        self._taken: Counter[tuple[str, str, str]] = Counter()  # counts already taken
        self._pending: Counter[tuple[str, str, str]] = Counter()  # the rarer counts
        # The counts every event makes, per (type, source): one lookup an event
        # instead of a keyed count each (see _EVENTS ...).
        self._by_type: dict[tuple[str, str], list[int]] = {}
        self.lateness_s: dict[str, list[float]] = {}  # source -> seconds, flushed per batch
        c = config
        self.outliers = {
            name: RollingOutlier(c.window, c.sigmas, c.min_samples)
            for name in ("price", "gap", "events_per_user_minute")
        }
        self.user_minute: dict[str, list[int]] = {}  # user -> [minute, events in it]
        self.bots: dict[str, int] = {}  # user -> event time it was marked
        self.clock = 0  # latest event time seen (a file's own clock)
        self._verdicts: dict[int, Verdict] = {0: _CLEAN}
        self._gap = self.outliers["gap"]
        # (slot in a (type, source) record, the field's place in an Event, or its name
        # when it is no field of an Event: read as an attribute, as before)
        self._expected_at: list[tuple[int, int | str]] = [
            (k, Event._fields.index(f) if f in Event._fields else f)
            for k, f in enumerate(config.expected_fields, _MISSING)
        ]

    @property
    def pending(self) -> Counter[tuple[str, str, str]]:
        """The counts since the last :meth:`take_pending`, keyed ``(kind, label, source)``."""
        out = Counter(self._pending)
        fields = self.config.expected_fields
        for (etype, src), rec in self._by_type.items():
            for kind, n in zip(("events", "complete", "late", "future"), rec):
                if n:
                    out[(kind, etype, src)] += n
            for f, n in zip(fields, rec[_MISSING:]):
                if n:
                    out[("missing", f, src)] += n
        return out

    @property
    def totals(self) -> Counter[tuple[str, str, str]]:
        """Every count so far, keyed ``(kind, label, source)``."""
        return self._taken + self.pending

    def _count(self, kind: str, label: str, source: str, n: int = 1) -> None:
        key = (kind, label, source)
        self._pending[key] = self._pending.get(key, 0) + n

    def observe(self, event: Event, ingest_ms: float | None = None, prev_ts: int | None = None) -> Verdict:
        """Check one accepted event; ``prev_ts`` is the user's previous event time.

        Called for every event on the worker's event loop: the common case (on time, no
        outlier, whether complete or not) allocates nothing but its lateness sample."""
        c = self.config
        flags = 0
        src = event.source or "unknown"
        rec = self._by_type.get((event.type, src))
        if rec is None:
            rec = self._by_type[(event.type, src)] = [0] * (_MISSING + len(c.expected_fields))
        rec[_EVENTS] += 1
        for k, at in self._expected_at:
            if (event[at] if isinstance(at, int) else getattr(event, at, None)) is None:
                rec[k] += 1
                flags = INCOMPLETE
        if not flags:
            rec[_COMPLETE] += 1
        ts = event.ts
        reference = self.clock if ingest_ms is None else ingest_ms
        if ts > self.clock:
            self.clock = ts
        lateness = reference - ts
        if ingest_ms is not None or reference:
            lateness_s = self.lateness_s.get(src)
            if lateness_s is None:
                lateness_s = self.lateness_s[src] = []
            lateness_s.append(lateness / 1000 if lateness > 0 else 0.0)
        if lateness > c.late_grace_ms:
            flags |= LATE
            rec[_LATE] += 1
        elif ingest_ms is not None and -lateness > c.future_tolerance_ms:
            flags |= FUTURE
            rec[_FUTURE] += 1
        if event.price is not None and self.outliers["price"].check(event.price):
            flags |= OUTLIER_PRICE
            self._count("outlier", "price", src)
        if prev_ts is not None and self._gap.check((ts - prev_ts) / 1000 if ts > prev_ts else 0.0):
            flags |= OUTLIER_GAP
            self._count("outlier", "gap", src)
        # The user's minute: the common case (a minute going on, below the bot minimum)
        # here, the rest in _bot_check.
        minute = ts // MINUTE_MS
        in_minute = self.user_minute.get(event.user_id)
        if in_minute is not None and in_minute[0] == minute and in_minute[1] + 1 < c.bot_min_per_minute:
            in_minute[1] += 1
        elif self._bot_check(event, src):
            flags |= OUTLIER_RATE
            self._count("outlier", "events_per_user_minute", src)
        # A replayed history is late throughout, and often incomplete: one verdict per
        # combination of flags (a few dozen at most), not one per event.
        verdict = self._verdicts.get(flags)
        if verdict is None:
            names = frozenset(name for k, name in enumerate(_FLAGS) if flags & (1 << k))
            # Only a price outlier is a data error; a long gap or a burst is behaviour
            # (bursts mark bots, whose intents are suppressed instead).
            verdict = Verdict(names, c.exclude_outliers and bool(flags & OUTLIER_PRICE))
            self._verdicts[flags] = verdict
        return verdict

    def _bot_check(self, event: Event, src: str) -> bool:
        """Count the event in its user's minute; True if that makes the user a bot."""
        minute = event.ts // MINUTE_MS
        rec = self.user_minute.get(event.user_id)
        if rec is None or rec[0] != minute:
            if rec is not None:  # the user's previous minute is complete: a sample
                self.outliers["events_per_user_minute"].check(rec[1])
            rec = self.user_minute[event.user_id] = [minute, 0]
            if len(self.user_minute) > USER_MINUTES:  # bounded: forget users idle for an hour
                for uid in [u for u, r in self.user_minute.items() if r[0] < minute - 60]:
                    del self.user_minute[uid]
                excess = len(self.user_minute) - USER_MINUTES * 3 // 4
                if excess > 0:  # a backfill jumps back and forth in event time: the oldest go
                    for uid in list(itertools.islice(self.user_minute, excess)):
                        del self.user_minute[uid]
        rec[1] += 1
        if rec[1] < self.config.bot_min_per_minute:  # the common case: no statistics needed
            return False
        stat = self.outliers["events_per_user_minute"]
        bound = stat.mean + self.config.sigmas * math.sqrt(max(stat.var, 0.0))
        if stat.n < stat.min_samples or rec[1] > bound:
            if event.user_id not in self.bots:
                self.bots[event.user_id] = event.ts
                self._count("bot_users", "", src)
            return True
        return False

    def is_bot(self, user_id: str) -> bool:
        return user_id in self.bots

    def take_pending(self) -> tuple[Counter[tuple[str, str, str]], dict[str, list[float]]]:
        """The counts and lateness samples (seconds, per source) since the last call
        (the worker's flush)."""
        pending, lateness = self.pending, self.lateness_s
        self._taken.update(pending)
        self._pending, self._by_type, self.lateness_s = Counter(), {}, {}
        return pending, lateness

    def summary(self, duplicates: int = 0, invalid: int = 0) -> dict[str, object]:
        """Shares over everything observed: completeness, validity, duplicates, lateness."""
        t = self.totals
        n = sum(_by_label(t, "events").values())

        def share(count: int) -> float:
            return round(count / n, 4) if n else 0.0

        missing = _by_label(t, "missing")
        return {
            "events": n,
            "completeness": share(sum(_by_label(t, "complete").values())),
            "missing_share": {f: share(missing.get(f, 0)) for f in self.config.expected_fields},
            "validity": round(n / (n + invalid), 4) if n + invalid else 0.0,
            "duplicate_share": round(duplicates / (n + duplicates), 4) if n + duplicates else 0.0,
            "late_share": share(sum(_by_label(t, "late").values())),
            "future_share": share(sum(_by_label(t, "future").values())),
            "outliers": _by_label(t, "outlier"),
            "bot_users": len(self.bots),
        }


def _by_label(totals: Counter[tuple[str, str, str]], kind: str) -> dict[str, int]:
    out: Counter[str] = Counter()
    for (k, label, _), v in totals.items():
        if k == kind:
            out[label] += v
    return dict(sorted(out.items()))


def assess_events(
    events: Iterable[Event], invalid: int = 0, config: QualityConfig = QualityConfig()
) -> dict[str, object]:
    """The worker's quality figures for a file, before it is replayed or trained on
    (``intent quality``). Lateness is measured against the file's own clock (the latest
    event time of the rows before it, in file order): a file has no ingest time. ``invalid`` counts rows
    the reader could not turn into events.

    >>> from stream.domain.events import Event
    >>> evs = [Event("a", "u", "i", "view", 60_000, "c"), Event("a", "u", "i", "view", 60_000, "c"),
    ...        Event("b", "u", "i", "addtocart", 0)]
    >>> r = assess_events(evs, invalid=1, config=QualityConfig(expected_fields=("category_id",)))
    >>> r["events"], r["duplicate_share"], r["completeness"], r["late_share"], r["validity"]
    (2, 0.3333, 0.5, 0.0, 0.6667)
    """
    monitor = QualityMonitor(config)
    seen: set[str] = set()
    last: dict[str, int] = {}
    duplicates = 0
    for e in events:
        if e.event_id in seen:
            duplicates += 1
            continue
        seen.add(e.event_id)
        monitor.observe(e, None, last.get(e.user_id))
        last[e.user_id] = e.ts
    out: dict[str, Any] = monitor.summary(duplicates=duplicates, invalid=invalid)
    seconds = [sec for by_source in monitor.lateness_s.values() for sec in by_source]
    lateness = np.array(seconds) if seconds else np.zeros(1)
    out["lateness_s"] = {
        "p50": round(float(np.percentile(lateness, 50)), 3),
        "p99": round(float(np.percentile(lateness, 99)), 3),
    }
    by_source: dict[str, dict[str, float]] = {}
    for (kind, _, src), n in monitor.totals.items():
        row = by_source.setdefault(src, {"events": 0, "complete": 0, "late": 0})
        if kind in row:
            row[kind] += n
    out["by_source"] = {
        src: {
            "events": r["events"],
            "completeness": round(r["complete"] / r["events"], 4) if r["events"] else 0.0,
            "late_share": round(r["late"] / r["events"], 4) if r["events"] else 0.0,
        }
        for src, r in sorted(by_source.items())
    }
    out["targets"] = {
        "completeness >= 0.95": out["completeness"] >= 0.95,
        "validity >= 0.98": out["validity"] >= 0.98,
        "p99 lateness <= 300 s": out["lateness_s"]["p99"] <= 300,
    }
    return out
