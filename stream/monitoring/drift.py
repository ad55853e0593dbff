"""Drift of the model's inputs and of its live accuracy, detected online with River's ADWIN.

Two detectors: ``scores`` watches the distribution of fused probabilities (every scored
pair), ``error`` the live error as purchases resolve earlier intents (1 for a false
positive or false negative, 0 for a true positive). When one fires, the drift is counted,
logged once and its time kept in :attr:`DriftMonitor.raised_at` (exported as a gauge);
ADWIN then starts a new window, so a lasting shift is reported once, not per batch.

>>> import numpy as np
>>> d = DriftMonitor()
>>> fired = [d.update_scores(np.full(100, 0.1)) for _ in range(20)]
>>> fired = [name for _ in range(20) for name in d.update_scores(np.full(100, 0.8))]
>>> fired[:1], d.events["scores"] >= 1
(['scores'], True)
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import numpy as np
from river import drift

__all__ = ["DriftMonitor", "DETECTORS"]

log = logging.getLogger(__name__)

DETECTORS = ("scores", "error")


class DriftMonitor:
    def __init__(self, delta: float = 0.002) -> None:
        self.detectors = {name: drift.ADWIN(delta=delta) for name in DETECTORS}
        self.events: Counter[str] = Counter()
        self.raised_at: dict[str, float] = {}

    def _update(self, name: str, values: np.ndarray | list[float]) -> list[str]:
        detector, fired = self.detectors[name], False
        for x in values:
            detector.update(float(x))
            fired = fired or detector.drift_detected
        if not fired:
            return []
        self.events[name] += 1
        self.raised_at[name] = time.time()
        log.warning("drift detected on %s (ADWIN; occurrence %d)", name, self.events[name])
        return [name]

    def update_scores(self, probabilities: np.ndarray) -> list[str]:
        """Feed a batch's fused probabilities; the detectors that fired (at most one)."""
        return self._update("scores", probabilities)

    def update_error(self, error: bool) -> list[str]:
        """Feed one resolved outcome (True = fp or fn)."""
        return self._update("error", [1.0 if error else 0.0])
