"""Live precision, recall and F1 of published intents, over a rolling window.

Outcomes come from :class:`stream.gate.IntentGate`: 'tp' (intent, then purchase),
'fp' (intent, no purchase within the horizon), 'fn' (purchase, no intent).

>>> acc = LiveAccuracy(window=100)
>>> for o in ["tp", "tp", "fp", "fn"]: acc.update(o)
>>> acc.get()
{'precision': 0.6666666666666666, 'recall': 0.6666666666666666, 'f1': 0.6666666666666666}
"""
from __future__ import annotations

from river import metrics, utils

__all__ = ["LiveAccuracy", "activity_bucket", "ACTIVITY_BUCKETS"]

#: (name, fewest events): cold start is fewer than 5 events, as in the related study
ACTIVITY_BUCKETS = (("cold", 0), ("warm", 5), ("heavy", 50))


def activity_bucket(n_events: int) -> str:
    """The activity bucket of a user with ``n_events`` events so far.

    >>> [activity_bucket(n) for n in (0, 4, 5, 49, 50)]
    ['cold', 'cold', 'warm', 'warm', 'heavy']
    """
    name = ACTIVITY_BUCKETS[0][0]
    for bucket, lowest in ACTIVITY_BUCKETS:
        if n_events >= lowest:
            name = bucket
    return name

_TRUTH = {"tp": (True, True), "fp": (False, True), "fn": (True, False)}


class LiveAccuracy:
    def __init__(self, window: int = 1000) -> None:
        self.metrics = {
            "precision": utils.Rolling(metrics.Precision, window_size=window),
            "recall": utils.Rolling(metrics.Recall, window_size=window),
            "f1": utils.Rolling(metrics.F1, window_size=window),
        }

    def update(self, outcome: str) -> None:
        y_true, y_pred = _TRUTH[outcome]
        for m in self.metrics.values():
            m.update(y_true, y_pred)

    def get(self) -> dict[str, float]:
        return {name: float(m.get()) for name, m in self.metrics.items()}
