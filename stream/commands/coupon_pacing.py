"""Pacing a day's coupon budget over the day, so that it goes to the day's best intents.

First come, first served spends a busy morning's budget on mediocre intents and has
nothing left for the evening's best. Instead an intent is granted when its probability
reaches a threshold that adapts to the day's traffic: the quantile of recent intents'
probabilities (a KLL sketch, Apache DataSketches) above which the budget left would
just be spent by the intents still to come today,

    threshold = quantile(1 - budget left / intents expected in the rest of the day).

The intents still to come are estimated from yesterday's arrivals after this time of day
(a profile of 96 quarter hours), or, on a first day, from today's rate so far (at least an
hour of it) over the rest of the day. Until ``warmup`` intents have been seen no coupon is
granted (a quantile of a handful of intents means nothing); towards midnight the
intents expected fall to zero and the threshold with them, so the budget is spent, and
never exceeded: the book refuses a coupon once the day's budget is used.

>>> pacer = Pacer(warmup=10)
>>> DAY = 86_400_000
>>> for k in range(100):  # a first day: 100 intents before noon, probabilities 0.00 .. 0.99
...     pacer.observe(k / 100, DAY + k * 60_000)
>>> t = pacer.threshold(budget_left=10, now_ms=DAY + 100 * 60_000)
>>> 0.9 < t <= 1.0  # 10 coupons for the day's expected ~1,400 intents: only the best
True
>>> pacer.threshold(budget_left=10, now_ms=2 * DAY - 1)  # a minute to midnight: spend it
0.0
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Pacer"]

DAY_MS = 86_400_000
SLOTS = 96  # quarter hours


class Pacer:
    """The paced threshold (see the module docstring); ``window``: intents per sketch
    (two in turn: the latest one or two windows are "recent")."""

    def __init__(self, warmup: int = 50, window: int = 5_000) -> None:
        from datasketches import kll_floats_sketch

        self._new = kll_floats_sketch
        self.warmup, self.window = warmup, window
        self.current, self.previous = kll_floats_sketch(200), kll_floats_sketch(200)
        self.arrivals: dict[int, np.ndarray] = {}  # day -> intents per quarter hour

    def observe(self, probability: float, now_ms: int) -> None:
        """An intent eligible for a coupon (inside the band, not in a cool-down) at ``now_ms``."""
        if self.current.n >= self.window:
            self.previous, self.current = self.current, self._new(200)
        self.current.update(float(probability))
        day, slot = divmod(now_ms, DAY_MS)
        counts = self.arrivals.get(day)
        if counts is None:
            counts = self.arrivals[day] = np.zeros(SLOTS)
            for old in [d for d in self.arrivals if d < day - 1]:
                del self.arrivals[old]
        counts[slot * SLOTS // DAY_MS] += 1

    def expected_rest_of_day(self, now_ms: int) -> float:
        day, into = divmod(now_ms, DAY_MS)
        slot = into * SLOTS // DAY_MS
        yesterday = self.arrivals.get(day - 1)
        if yesterday is not None and yesterday.sum() > 0:
            part = (slot + 1) - into * SLOTS / DAY_MS  # what is left of this quarter hour
            return float(yesterday[slot + 1 :].sum() + part * yesterday[slot])
        today = self.arrivals.get(day)
        seen = 0.0 if today is None else float(today.sum())
        return seen / max(into, DAY_MS / 24) * (DAY_MS - into)

    def threshold(self, budget_left: int, now_ms: int) -> float:
        """The probability an intent needs now to be granted a coupon."""
        if budget_left <= 0:
            return math.inf
        if self.current.n + self.previous.n < self.warmup:
            return math.inf
        expected = self.expected_rest_of_day(now_ms)
        share = budget_left / expected if expected > 0 else 1.0
        if share >= 1.0:
            return 0.0
        merged = self._new(200)
        for sketch in (self.previous, self.current):
            if sketch.n:
                merged.merge(sketch)
        return float(merged.get_quantile(1.0 - share))
