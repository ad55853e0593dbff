"""Resolved intents, watched: live accuracy per model version and role, overall and by
activity bucket, and the error stream the drift detector reads.

An outcome is 'tp' (intent, then purchase), 'fp' (intent, no purchase within the
horizon) or 'fn' (purchase, no intent), from :class:`stream.processing.gate.IntentGate`,
with the model version it belongs to (the one that published the intent) and its role:
``champion`` (the served model, whose intents are published) or ``challenger`` (shadow
scored, its would-be intents on the shadow topic). Each (role, version) has windows of
its own, so a hot swap or a challenger never mixes two models in one figure; only the
champion's errors feed the drift detector. :meth:`OutcomeMonitor.update` runs once per
outcome on the worker's event loop; :meth:`OutcomeMonitor.flush` exports what changed
once a batch, because label lookups and gauge sets cost more than the outcome itself.

>>> from stream.monitoring.metrics import WorkerMetrics
>>> mon = OutcomeMonitor(DriftMonitor())
>>> for o, n_events in [("tp", 2), ("fp", 60), ("tp", 60)]:
...     _ = mon.update(o, n_events, "v1")
>>> _ = mon.update("fp", 60, "v9", CHALLENGER)
>>> mon.window("v1").live.get()["precision"], mon.window("v1").by_activity["heavy"].get()["precision"]
(0.6666666666666666, 0.5)
>>> m = WorkerMetrics(); mon.flush(m)
>>> m.outcomes.labels(outcome="tp", model_version="v1", role="champion")._value.get()
2.0
>>> m.live.labels(metric="precision", model_version="v9", role="challenger")._value.get()
0.0
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from stream.domain.labels import activity_bucket
from stream.monitoring.drift import DriftMonitor
from stream.monitoring.live_accuracy import LiveAccuracy
from stream.monitoring.metrics import WorkerMetrics

__all__ = ["OutcomeMonitor", "OutcomeWindows", "CHAMPION", "CHALLENGER", "ROLES"]

CHAMPION, CHALLENGER = "champion", "challenger"
ROLES = (CHAMPION, CHALLENGER)


@dataclass
class OutcomeWindows:
    """One model's rolling windows: overall and by activity bucket."""

    live: LiveAccuracy
    by_activity: dict[str, LiveAccuracy] = field(default_factory=dict)


class OutcomeMonitor:
    """Windows of ``window`` outcomes per (role, version); the ``keep`` latest versions of
    a role are exported (an older one's gauges are removed)."""

    def __init__(self, drift: DriftMonitor, window: int = 1000, keep: int = 3) -> None:
        self.drift = drift
        self.window_size = window
        self.keep = keep
        self.windows: dict[tuple[str, str], OutcomeWindows] = {}
        self._pending: Counter[tuple[str, str, str]] = Counter()  # not yet exported
        self._dropped: list[tuple[str, str, list[str]]] = []  # gauges to remove at the next flush

    def window(self, version: str, role: str = CHAMPION) -> OutcomeWindows:
        key = (role, version)
        found = self.windows.get(key)
        if found is None:
            found = self.windows[key] = OutcomeWindows(LiveAccuracy(self.window_size))
            mine = [k for k in self.windows if k[0] == role]
            for old in mine[: max(len(mine) - self.keep, 0)]:  # insertion order: oldest first
                self._dropped.append((*old, list(self.windows.pop(old).by_activity)))
        return found

    def update(self, outcome: str, n_events: int, version: str = "", role: str = CHAMPION) -> list[str]:
        """Count ``outcome`` of a user with ``n_events`` events for ``version`` in
        ``role``; the drift detectors it raised (if any: the champion's only)."""
        windows = self.window(version, role)
        windows.live.update(outcome)
        self._pending[(outcome, version, role)] += 1
        bucket = activity_bucket(n_events)
        by_bucket = windows.by_activity.get(bucket)
        if by_bucket is None:
            by_bucket = windows.by_activity[bucket] = LiveAccuracy(self.window_size)
        by_bucket.update(outcome)
        return self.drift.update_error(outcome != "tp") if role == CHAMPION else []

    def flush(self, metrics: WorkerMetrics) -> None:
        """Export the outcomes counted since the last flush, and the live figures."""
        for role, version, buckets in self._dropped:
            for name in ("precision", "recall", "f1"):
                _remove(metrics.live, name, version, role)
                for bucket in buckets:
                    _remove(metrics.live_by_activity, name, bucket, version, role)
        self._dropped.clear()
        if not self._pending:
            return
        touched = {(role, version) for _, version, role in self._pending}
        for (outcome, version, role), n in self._pending.items():
            metrics.outcomes.labels(outcome=outcome, model_version=version, role=role).inc(n)
        self._pending.clear()
        for role, version in touched:
            windows = self.windows.get((role, version))
            if windows is None:
                continue
            labels = {"model_version": version, "role": role}
            for name, value in windows.live.get().items():
                metrics.live.labels(metric=name, **labels).set(value)
            for bucket, by_bucket in windows.by_activity.items():
                for name, value in by_bucket.get().items():
                    metrics.live_by_activity.labels(metric=name, bucket=bucket, **labels).set(value)


def _remove(gauge: object, *labels: str) -> None:
    try:
        gauge.remove(*labels)  # type: ignore[attr-defined]
    except KeyError:  # never exported
        pass
