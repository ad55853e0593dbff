"""An operating point set as a volume: the threshold that publishes about
``INTENT_TARGET_INTENTS_PER_DAY`` intents a day, whatever the model's calibration.

Marketing plans a number of intents a day, not a probability. The threshold is read
from the recent distribution of scores, kept per model version in a streaming quantile
sketch (Apache DataSketches' REQ sketch in its high-rank-accuracy mode, ``datasketches``;
two sketches in turn, so "recent" is the last one or two windows of ``window`` scores).
REQ rather than KLL because the threshold is a tail quantile: KLL's error is absolute in
rank (about 1.7% at k = 200), so at the 99th percentile the share of scores above the
threshold it gives is off by a fifth to a third (measured: 22% standard deviation over
40,000 scores), and the published volume with it; REQ's error is relative to the
distance from the top (about 1% there). With S scored pairs a day (event
time, over the last day) and r intents published per pair scored above the threshold
(the gate publishes a pair once per crossing or cool-down, not at every scoring; counted
as it goes), a worker that should publish T intents a day serves the quantile
``1 - T / (S * r)`` of its scores.

**Per worker, summed over the fleet**: each worker aims at T times its share of the
fleet's traffic, the share of the ``events`` partitions it owns (``share``), so the
fleet sums to T when every partition is owned once (Kafka spreads users by key, so
partitions carry about the same traffic).

**A hot swap keeps the volume**: the new version has no scores yet, so the worker scores
the pairs of its latest batches (:meth:`VolumeTarget.recent_pairs`) with it before it
serves (:meth:`VolumeTarget.seed`): the same quantile of the new model's scores.

>>> import numpy as np
>>> v = VolumeTarget(per_day=100, min_scores=10)
>>> rng = np.random.default_rng(0)
>>> day_ms = 86_400_000
>>> for k in range(24):  # 1,000 pairs an hour: 24,000 a day
...     t = v.threshold("v1", rng.random(1000).astype(np.float32), k * day_ms // 24, fallback=0.5)
>>> round(t, 2)  # 100 of 24,000 a day: the 99.6% quantile
1.0
>>> halved = rng.random(1000).astype(np.float32) / 2  # another calibration
>>> v.threshold("v2", halved, day_ms, fallback=0.5) < 0.5
True
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["VolumeTarget", "DAY_MS"]

DAY_MS = 86_400_000


#: the REQ sketch's section size (its accuracy grows with it; 12 keeps about 840 of 15,000 scores)
REQ_K = 12


def _sketch() -> Any:
    from datasketches import req_floats_sketch

    return req_floats_sketch(REQ_K, True)  # high-rank accuracy: the top tail is what we read


class _RecentScores:
    """Two REQ sketches in turn: the scores of the latest one or two windows."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.current = _sketch()
        self.previous = _sketch()

    def update(self, scores: np.ndarray) -> None:
        if self.current.n >= self.window:
            self.previous, self.current = self.current, _sketch()
        self.current.update(np.ascontiguousarray(scores, dtype=np.float32))

    @property
    def n(self) -> int:
        return int(self.current.n + self.previous.n)

    def quantile(self, rank: float) -> float:
        """The threshold that leaves about ``1 - rank`` of the scores at or above it. Scores
        can tie (a forest's leaves): then either the tied value or the next float up,
        whichever leaves the share nearer the one wanted."""
        merged = _sketch()
        for sketch in (self.previous, self.current):
            if sketch.n:
                merged.merge(sketch)
        t = float(merged.get_quantile(rank))
        with_ties = 1.0 - merged.get_rank(t, inclusive=False)  # p >= t
        without = 1.0 - merged.get_rank(t, inclusive=True)  # p > t
        if abs(without - (1.0 - rank)) < abs(with_ties - (1.0 - rank)):
            return float(np.nextafter(np.float32(t), np.float32(2.0)))
        return t


class VolumeTarget:
    """The threshold for ``per_day`` intents a day (see the module docstring).

    ``share``: this worker's share of the fleet's traffic (its events partitions over
    all); ``window``: scores per sketch; ``min_scores``: below this many scores of a
    version its own threshold (``fallback``) serves."""

    def __init__(
        self,
        per_day: float,
        share: Callable[[], float] = lambda: 1.0,
        window: int = 15_000,
        min_scores: int = 1_000,
        keep_pairs: int = 4_096,
    ) -> None:
        self.per_day, self.share = per_day, share
        self.window, self.min_scores, self.keep_pairs = window, min_scores, keep_pairs
        self.sketches: dict[str, _RecentScores] = {}
        self._rate: deque[tuple[int, int]] = deque()  # (event time, pairs scored), the last day
        self._pairs_in_day = 0
        self.efficiency: dict[str, list[float]] = {}  # role -> [published, above]
        self._recent: deque[tuple[np.ndarray, np.ndarray, list[int]]] = deque()

    def _sketch(self, version: str) -> _RecentScores:
        sketch = self.sketches.get(version)
        if sketch is None:
            sketch = self.sketches[version] = _RecentScores(self.window)
            while len(self.sketches) > 4:  # the versions served lately
                del self.sketches[next(iter(self.sketches))]
        return sketch

    def pairs_per_day(self) -> float:
        """Pairs this worker scores a day, over the last day of event time (at least an
        hour of it, so the first minutes do not extrapolate wildly)."""
        if not self._rate:
            return 0.0
        span = max(self._rate[-1][0] - self._rate[0][0], DAY_MS // 24)
        return self._pairs_in_day * DAY_MS / min(span, DAY_MS)

    def threshold(
        self, version: str, scores: np.ndarray, event_ts: int, fallback: float, role: str = "champion"
    ) -> float:
        """Note a batch's ``scores`` by ``version`` (its latest event at ``event_ts``), then
        the threshold that batch is gated at."""
        if role == "champion":  # the traffic is counted once, with the served model's scores
            self._rate.append((event_ts, len(scores)))
            self._pairs_in_day += len(scores)
            while self._rate and self._rate[0][0] < event_ts - DAY_MS:
                self._pairs_in_day -= self._rate.popleft()[1]
        sketch = self._sketch(version)
        sketch.update(scores)
        if sketch.n < self.min_scores:
            return fallback
        published, above = self.efficiency.get(role, (1.0, 1.0))
        expected = self.pairs_per_day() * max(published / max(above, 1.0), 1e-3)
        if expected <= 0:
            return fallback
        rank = 1.0 - self.per_day * self.share() / expected
        if rank <= 0:
            return 0.0
        return min(sketch.quantile(min(rank, 1.0)), 1.0)

    def published(self, role: str, intents: int, above: int, memory: float = 0.995) -> None:
        """A batch gated: ``intents`` published of ``above`` pairs at or above the
        threshold (the efficiency r, an average that forgets ``1 - memory`` a batch: 0.5%)."""
        counts = self.efficiency.setdefault(role, [1.0, 1.0])
        counts[0] = counts[0] * memory + intents
        counts[1] = counts[1] * memory + above

    def remember(self, U: np.ndarray, I: np.ndarray, sizes: list[int]) -> None:
        """A batch's pairs, kept (the latest ``keep_pairs``) to seed a new version."""
        self._recent.append((U, I, sizes))
        held = sum(len(u) for u, _, _ in self._recent)
        while len(self._recent) > 1 and held - len(self._recent[0][0]) >= self.keep_pairs:
            held -= len(self._recent.popleft()[0])

    def recent_pairs(self) -> tuple[np.ndarray, np.ndarray, list[int]] | None:
        if not self._recent:
            return None
        U = np.concatenate([u for u, _, _ in self._recent])
        I = np.concatenate([i for _, i, _ in self._recent])
        return U, I, [n for _, _, sizes in self._recent for n in sizes]

    def seed(self, version: str, scores: np.ndarray) -> None:
        """A new version's scores of :meth:`recent_pairs`, before it serves."""
        self._sketch(version).update(scores)

    def prepare(self, scorer: Any, challenger: str | None = None) -> bool:
        """Score :meth:`recent_pairs` with a new version's ``scorer`` (blocking: the worker
        runs it in a thread) and seed its sketch (and the challenger's, named
        ``challenger``, when the scorer shadow-scores one). False when nothing was seeded."""
        pairs = self.recent_pairs()
        if pairs is None:
            return False
        scores = scorer.score(*pairs)
        self.seed(scorer.model_version, scores.probability)
        if challenger is not None and scores.challenger is not None:
            self.seed(challenger, scores.challenger.probability)
        return True
