"""Live precision, recall and F1 of published intents, over a rolling window.

Outcomes come from :class:`stream.processing.gate.IntentGate`: 'tp' (intent, then purchase),
'fp' (intent, no purchase within the horizon), 'fn' (purchase, no intent).

>>> acc = LiveAccuracy(window=100)
>>> for o in ["tp", "tp", "fp", "fn"]: acc.update(o)
>>> acc.get()
{'precision': 0.6666666666666666, 'recall': 0.6666666666666666, 'f1': 0.6666666666666666}
"""

from __future__ import annotations

from collections import deque

__all__ = ["LiveAccuracy"]


class LiveAccuracy:
    """Precision, recall and F1 over the latest ``window`` outcomes: the figures River's
    ``utils.Rolling(metrics.Precision | Recall | F1)`` give (tested against them), from
    one window of outcome counts instead of three rolling confusion matrices (an
    outcome is counted on the worker's event loop, once per resolved intent)."""

    def __init__(self, window: int = 1000) -> None:
        self.window: deque[str] = deque(maxlen=window)
        self.counts = {"tp": 0, "fp": 0, "fn": 0}

    def update(self, outcome: str) -> None:
        counts, window = self.counts, self.window
        if outcome not in counts:
            raise ValueError(f"unknown outcome {outcome!r}")
        if len(window) == window.maxlen:
            counts[window[0]] -= 1
        window.append(outcome)
        counts[outcome] += 1

    def get(self) -> dict[str, float]:
        tp, fp, fn = self.counts["tp"], self.counts["fp"], self.counts["fn"]
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        return {"precision": precision, "recall": recall, "f1": f1}
