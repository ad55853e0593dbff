"""Grid search on validation that does not stop at an edge it could move past.

A grid is a few :class:`Axis` (a setting's name, its starting values in order, and how
to step past either end). Every point of the starting grid is fitted; then, while the
best point lies at an end of the values tried on an axis, and that end can move, the
next value along that axis is tried with the other axes at the best point's values,
until the best point is inside the grid on every axis, an end is a bound (no deeper than
unbounded depth), ``max_steps`` steps were taken, or fitting another point would pass
``budget_s`` seconds. The search says
which of these ended it, so a report never presents a corner as an optimum.

>>> axis = Axis("C", (0.1, 1.0), lambda v, up: v * 10 if up else v / 10)
>>> scores = {0.01: 0.2, 0.1: 0.5, 1.0: 0.6, 10.0: 0.4}
>>> search = GridSearch([axis]).run(lambda p: (scores[p["C"]], None))
>>> search.best, search.ended
({'C': 1.0}, 'inside')
>>> [p["C"] for p in search.curve]      # 10 was tried because 1.0 was the upper end
[0.1, 1.0, 10.0]
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Axis", "GridSearch", "multiply", "add", "bounded", "NO_STEP"]

#: ``step(value, up)``: the next value past ``value`` upwards (``up``) or downwards, or
#: :data:`NO_STEP` (None is a value: unbounded depth)
Step = Callable[[Any, bool], Any]
NO_STEP = "no step"


def multiply(factor: float) -> Step:
    """Steps of a factor (``C``: 0.01 -> 0.001 or 0.1)."""
    return lambda v, up: v * factor if up else v / factor


def add(delta: int, lowest: int = 1, highest: int | None = None) -> Step:
    """Steps of ``delta`` within ``[lowest, highest]`` (no step past either bound)."""

    def step(v: Any, up: bool) -> Any:
        if v is None:  # unbounded is the top: nothing above it
            return NO_STEP
        nxt = v + delta if up else v - delta
        return nxt if nxt >= lowest and (highest is None or nxt <= highest) else NO_STEP

    return step


def bounded(values: Sequence[Any]) -> Step:
    """Steps along a fixed ladder of ``values`` (no step past its ends, or off it)."""

    def step(v: Any, up: bool) -> Any:
        if v not in values:
            return NO_STEP
        k = list(values).index(v) + (1 if up else -1)
        return values[k] if 0 <= k < len(values) else NO_STEP

    return step


@dataclass(frozen=True)
class Axis:
    name: str
    values: tuple[Any, ...]
    step: Step


@dataclass
class GridSearch:
    """See the module docstring. ``run(fit)`` calls ``fit(point) -> (score, model)``."""

    axes: list[Axis]
    max_steps: int = 3
    budget_s: float = float("inf")
    #: ``cost(point, curve)``: the seconds fitting ``point`` is expected to take, from the
    #: points fitted so far (None: their mean)
    cost: Callable[[dict[str, Any], list[dict[str, Any]]], float] | None = None
    curve: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    best_model: Any = None
    ended: str = ""

    def run(
        self,
        fit: Callable[[dict[str, Any]], tuple[float, Any]],
        describe: Callable[[Any], dict[str, Any]] | None = None,
    ) -> GridSearch:
        """Search (see the module docstring); ``describe(model)`` adds fields to a point's
        row of the curve."""
        t0 = time.time()
        seen: dict[tuple[Any, ...], float] = {}
        best_score = float("-inf")

        def visit(point: dict[str, Any]) -> None:
            nonlocal best_score
            t = time.time()
            score, model = fit(point)
            seen[tuple(point[a.name] for a in self.axes)] = score
            extra = describe(model) if describe is not None else {}
            self.curve.append(
                {**point, **extra, "val_pr_auc": round(score, 5), "fit_s": round(time.time() - t, 1)}
            )
            if score > best_score + 1e-9:
                best_score, self.best, self.best_model = score, dict(point), model

        for values in itertools.product(*(a.values for a in self.axes)):
            visit({a.name: v for a, v in zip(self.axes, values)})
        steps = 0
        while True:
            nxt = self._next(seen)
            if nxt is None:
                self.ended = "inside" if not self._at_edge(seen) else "bound"
                break
            if steps >= self.max_steps:
                self.ended = "max_steps"
                break
            spent = time.time() - t0
            per_fit = self.cost(nxt, self.curve) if self.cost is not None else spent / max(len(self.curve), 1)
            if spent + per_fit > self.budget_s:
                self.ended = "time_budget"
                break
            visit(nxt)
            steps += 1
        for row in self.curve:
            row["chosen"] = all(row[a.name] == self.best[a.name] for a in self.axes)
        return self

    def _neighbours(self, seen: dict[tuple[Any, ...], float]) -> list[tuple[dict[str, Any], bool]]:
        """Per axis end of the grid searched so far that the best point sits at: the point
        one step past it (the other axes at the best point's values), and whether that
        step exists."""
        out = []
        for k, axis in enumerate(self.axes):
            tried = sorted({key[k] for key in seen}, key=_order)
            v = self.best[axis.name]
            for up, end in ((False, tried[0]), (True, tried[-1])):
                if _order(v) == _order(end):
                    past = axis.step(v, up)
                    exists = not (isinstance(past, str) and past == NO_STEP)
                    out.append(({**self.best, axis.name: past}, exists))
        return out

    def _at_edge(self, seen: dict[tuple[Any, ...], float]) -> bool:
        return bool(self._neighbours(seen))

    def _next(self, seen: dict[tuple[Any, ...], float]) -> dict[str, Any] | None:
        for point, exists in self._neighbours(seen):
            if exists and tuple(point[a.name] for a in self.axes) not in seen:
                return point
        return None


def _order(v: Any) -> float:
    """Values in order, None (unbounded) last."""
    return float("inf") if v is None else float(v)
