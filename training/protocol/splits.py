"""The time split every model is judged on: calendar days (or hours), forward-chaining, embargoed.

The data's active calendar days (in the data set's local time; a day holding at least a
quarter of the mean events of the days with any: JD.com's monthly slices each spill a
few minutes over midnight into the day before) are cut into train, validation and test, in that order:
by default test takes the last 2/9 of them and validation the 1/9 before (Taobao's 9
days: 6 / 1 / 2; JD.com's three monthly slices: Feb / Mar / Apr). Each part is a range of
event time:

* a moment belongs to the part its time falls in; its features see only the events
  before it (the replay guarantees that), and its label window ``(t, t + H]`` is **cut**
  at the part's end, so no label looks into the next part;
* the first ``H`` of validation and of test (the embargo) is replayed into state but
  yields no example, so no scored moment of a later part sits within a label horizon
  of an earlier one;
* purchases are counted for a part's per-purchase recall from ``H`` after its first
  scored moment, so every counted purchase has its whole look-back window scored.

**Short histories.** Data with fewer active days than the split needs (a shop with a
day of clickstream, or a two-hour slice) is cut the same way by **hours** instead
(``unit = "hour"``: active hours, the same 6/1/2 shares, the same embargo and cut
labels), and the run warns that its verdict is weaker: validation and test then last
hours, hold the same users as training, and one day's pattern. Only data with fewer
than 3 active hours is refused (``SplitError`` says how much is needed).

>>> DAY = 86_400_000
>>> ts = [d * DAY + 3_600_000 for d in range(9)]
>>> s = CalendarSplit.from_times(ts, horizon_ms=1_800_000)
>>> [s.part(t) for t in ts]
['train', 'train', 'train', 'train', 'train', 'train', 'val', 'test', 'test']
>>> s.part(6 * DAY + 60_000) is None  # inside validation's embargo
True
>>> spill = 60_000  # a minute before midnight
>>> slices = [0] * 100 + [30 * DAY - spill] * 5 + [30 * DAY] * 100 + [61 * DAY - spill] * 5 + [61 * DAY] * 100
>>> jd = CalendarSplit.from_times(slices, 1)   # three slices, each spilling a minute into the day before
>>> jd.days, [jd.part(t) for t in (30 * DAY - 60_000, 30 * DAY, 61 * DAY - 60_000, 61 * DAY)]
((1, 1, 1), ['val', 'val', 'test', 'test'])
>>> HOUR = 3_600_000
>>> one_day = CalendarSplit.from_times([h * HOUR + 60_000 for h in range(24)], horizon_ms=600_000)
>>> one_day.unit, one_day.days, one_day.val_start // HOUR, one_day.test_start // HOUR
('hour', (16, 3, 5), 16, 19)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass

__all__ = ["CalendarSplit", "PARTS", "SplitError", "fitting_horizon"]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
PARTS = ("train", "val", "test")
UNITS = {"day": DAY_MS, "hour": HOUR_MS}
#: the warning a split by hours carries into the log and the report
WEAKER_VERDICT = (
    "the data spans fewer active days than a calendar split needs, so it is split by hours: "
    "validation and test last hours, hold the same users as training and one day's pattern, "
    "so the verdict is weaker than a split by days gives"
)


class SplitError(ValueError):
    """Data that cannot be split at all (fewer than 3 active hours)."""


@dataclass(frozen=True)
class CalendarSplit:
    """Part boundaries in epoch ms: train ``[start, val_start)``, validation
    ``[val_start, test_start)``, test ``[test_start, end)``; see the module docstring."""

    start: int
    val_start: int
    test_start: int
    end: int
    embargo_ms: int
    days: tuple[int, int, int] = (0, 0, 0)  # active days (hours, with unit "hour") in each part
    unit: str = "day"  # "hour": data too short for days, split by hours (a weaker verdict)

    @classmethod
    def from_times(
        cls,
        times: Iterable[int],
        horizon_ms: int,
        day_offset_ms: int = 0,
        val_days: int | None = None,
        test_days: int | None = None,
        min_day_fraction: float = 0.25,
    ) -> CalendarSplit:
        """Cut the active days of ``times`` (``day_offset_ms``: where the data's local day
        starts relative to UTC midnight, e.g. -8 h for China time); by hours when there are
        too few days (see the module docstring)."""
        times = list(times)
        if not times:
            raise SplitError("no events to split")
        try:
            return cls._cut(times, horizon_ms, DAY_MS, day_offset_ms, val_days, test_days, min_day_fraction)
        except SplitError:
            pass
        try:  # too few days: the same cut by hours (the sizes asked for were in days)
            return cls._cut(times, horizon_ms, HOUR_MS, 0, None, None, min_day_fraction)
        except SplitError as exc:
            raise SplitError(
                f"{exc}: the data cannot be split at all; training needs at least 3 active hours of "
                "events (train, validation, test), and a verdict worth reading at least 3 active days"
            ) from None

    @classmethod
    def _cut(
        cls,
        times: list[int],
        horizon_ms: int,
        unit_ms: int,
        offset_ms: int,
        n_val_units: int | None,
        n_test_units: int | None,
        min_fraction: float,
    ) -> CalendarSplit:
        per_unit = Counter((t - offset_ms) // unit_ms for t in times)
        mean = len(times) / len(per_unit)
        active = sorted(d for d, n in per_unit.items() if n >= min_fraction * mean)
        n = len(active)
        n_test = n_test_units if n_test_units is not None else max(1, round(n * 2 / 9))
        n_val = n_val_units if n_val_units is not None else max(1, round(n / 9))
        name = "days" if unit_ms == DAY_MS else "hours"
        if n - n_test - n_val < 1 or n_test < 1 or n_val < 1:
            raise SplitError(
                f"a split by {name} needs at least {n_test + n_val + 1} active {name} "
                f"(train, {n_val} validation, {n_test} test); the data has {n}"
            )
        # A part begins the unit after the previous part's last active one: with units in a
        # row, at its own first; with gaps (JD.com's monthly slices), a slice's spill over
        # midnight into the day before stays with its slice.
        val_unit, test_unit = active[n - n_test - n_val - 1] + 1, active[n - n_test - 1] + 1
        return cls(
            start=min(times),
            val_start=val_unit * unit_ms + offset_ms,
            test_start=test_unit * unit_ms + offset_ms,
            end=max(times) + 1,
            embargo_ms=horizon_ms,
            days=(n - n_test - n_val, n_val, n_test),
            unit="day" if unit_ms == DAY_MS else "hour",
        )

    def bounds(self, part: str) -> tuple[int, int]:
        """``[first scored moment, end)`` of a part: its range less the embargo."""
        if part == "train":
            return self.start, self.val_start
        if part == "val":
            return self.val_start + self.embargo_ms, self.test_start
        if part == "test":
            return self.test_start + self.embargo_ms, self.end
        raise KeyError(part)

    def part(self, ts: int) -> str | None:
        """The part a moment at ``ts`` is an example of (None: embargoed or outside)."""
        for name in PARTS:
            lo, hi = self.bounds(name)
            if lo <= ts < hi:
                return name
        return None

    def spans(self, times: Iterable[int]) -> dict[str, int]:
        """How long each part's data lasts (its last event time minus its first), in ms."""
        ranges = {
            "train": (self.start, self.val_start),
            "val": (self.val_start, self.test_start),
            "test": (self.test_start, self.end),
        }
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        for t in times:
            for name, (lo, hi) in ranges.items():
                if lo <= t < hi:
                    first[name] = min(first.get(name, t), t)
                    last[name] = max(last.get(name, t), t)
        return {name: last.get(name, 0) - first.get(name, 0) for name in PARTS}

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def fitting_horizon(split: CalendarSplit, times: Iterable[int], wanted_ms: int, min_ms: int = 60_000) -> int:
    """``wanted_ms``, or less when a validation or test part lasts under four horizons (the
    embargo and the purchases' look-back take two of them): then the whole minutes of a
    quarter of the shortest. JD.com's monthly slices last 0.5 to 3 hours.

    >>> DAY, MIN = 86_400_000, 60_000
    >>> times = [0, DAY, DAY + 40 * MIN, 2 * DAY, 2 * DAY + 90 * MIN]   # validation lasts 40 minutes
    >>> s = CalendarSplit.from_times(times, 30 * MIN, val_days=1, test_days=1)
    >>> fitting_horizon(s, times, 30 * MIN) // MIN
    10
    """
    spans = split.spans(times)
    shortest = min(spans["val"], spans["test"])
    if shortest >= 4 * wanted_ms:
        return wanted_ms
    return max(min_ms, shortest // 4 // 60_000 * 60_000)
