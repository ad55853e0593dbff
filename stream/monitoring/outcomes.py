"""Resolved intents, watched: live accuracy overall and by activity bucket, and the
error stream the drift detector reads.

An outcome is 'tp' (intent, then purchase), 'fp' (intent, no purchase within the
horizon) or 'fn' (purchase, no intent), from :class:`stream.processing.gate.IntentGate`.
:meth:`OutcomeMonitor.update` runs once per outcome on the worker's event loop;
:meth:`OutcomeMonitor.flush` exports what changed once a batch, because label lookups
and gauge sets cost more than the outcome itself.

>>> from stream.monitoring.metrics import WorkerMetrics
>>> mon = OutcomeMonitor(DriftMonitor())
>>> for o, n_events in [("tp", 2), ("fp", 60), ("tp", 60)]:
...     _ = mon.update(o, n_events)
>>> mon.live.get()["precision"], mon.by_activity["heavy"].get()["precision"]
(0.6666666666666666, 0.5)
>>> m = WorkerMetrics(); mon.flush(m)
>>> m.outcomes.labels(outcome="tp")._value.get()
2.0
"""

from __future__ import annotations

from collections import Counter

from stream.domain.labels import activity_bucket
from stream.monitoring.drift import DriftMonitor
from stream.monitoring.live_accuracy import LiveAccuracy
from stream.monitoring.metrics import WorkerMetrics

__all__ = ["OutcomeMonitor"]


class OutcomeMonitor:
    def __init__(self, drift: DriftMonitor, window: int = 1000) -> None:
        self.drift = drift
        self.window = window
        self.live = LiveAccuracy(window)
        self.by_activity: dict[str, LiveAccuracy] = {}
        self._pending: Counter[str] = Counter()  # not yet exported

    def update(self, outcome: str, n_events: int) -> list[str]:
        """Count ``outcome`` of a user with ``n_events`` events; the drift detectors it
        raised (if any)."""
        self.live.update(outcome)
        self._pending[outcome] += 1
        bucket = activity_bucket(n_events)
        by_bucket = self.by_activity.get(bucket)
        if by_bucket is None:
            by_bucket = self.by_activity[bucket] = LiveAccuracy(self.window)
        by_bucket.update(outcome)
        return self.drift.update_error(outcome != "tp")

    def flush(self, metrics: WorkerMetrics) -> None:
        """Export the outcomes counted since the last flush, and the live figures."""
        if not self._pending:
            return
        for outcome, n in self._pending.items():
            metrics.outcomes.labels(outcome=outcome).inc(n)
        self._pending.clear()
        for name, value in self.live.get().items():
            metrics.live.labels(metric=name).set(value)
        for bucket, by_bucket in self.by_activity.items():
            for name, value in by_bucket.get().items():
                metrics.live_by_activity.labels(metric=name, bucket=bucket).set(value)
