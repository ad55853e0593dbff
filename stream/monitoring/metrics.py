"""Prometheus metrics of the worker (``intent coupons``' are in
:mod:`stream.monitoring.coupon_metrics`, ``intent archive``'s in
:mod:`stream.monitoring.archive_metrics`; the HTTP server of all three in
:mod:`stream.monitoring.metrics_server`).

Every metric the dashboards and alerts use is defined here, once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest

__all__ = ["WorkerMetrics", "PartitionGauge", "observe_many", "render_registry"]

LATENESS_BUCKETS = (0.1, 1, 5, 30, 60, 300, 900, 3600, 21600, 86400, 604800, 2592000, 31536000)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def observe_many(histogram: Any, values: Sequence[float]) -> None:
    """``histogram.observe(v)`` for every value, with one increment per bucket: a worker
    observes a latency or lateness per event, and ``observe`` costs about 3 us a call.

    >>> from prometheus_client import CollectorRegistry, Histogram
    >>> h = Histogram("h", "h", buckets=(1, 5), registry=CollectorRegistry())
    >>> observe_many(h, [0.5, 1.0, 3.0, 7.0])
    >>> [(s.name, s.labels.get("le"), s.value) for s in h.collect()[0].samples][:4]
    [('h_bucket', '1.0', 2.0), ('h_bucket', '5.0', 3.0), ('h_bucket', '+Inf', 4.0), ('h_count', None, 4.0)]
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets, total = getattr(histogram, "_buckets", None), getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None:  # not the client this was written for
        for v in values:
            histogram.observe(v)
        return
    if not len(values):
        return
    amounts = np.asarray(values, dtype=float)
    # observe() puts a value in the first bucket whose upper bound it does not exceed
    counts = np.bincount(np.searchsorted(bounds, amounts, side="left"), minlength=len(bounds))
    for i in np.flatnonzero(counts[: len(bounds)]):
        buckets[i].inc(int(counts[i]))
    total.inc(float(amounts.sum()))


class PartitionGauge:
    """A gauge with one series per partition that this process owns.

    A consumer's per-partition figure (its lag) means something only while it owns the
    partition: after a rebalance the new owner exports it, and a series left behind
    here would be counted twice by a sum over the fleet, frozen at its last value.
    So a series is removed when its partition is revoked (:meth:`forget`), and
    :meth:`own` drops any partition not in the current assignment.

    >>> from prometheus_client import CollectorRegistry, Gauge
    >>> g = PartitionGauge(Gauge("lag", "lag", ["partition"], registry=CollectorRegistry()))
    >>> g.set(0, 5); g.set(1, 7); g.forget([1])
    >>> [(s.labels["partition"], s.value) for s in g.gauge.collect()[0].samples]
    [('0', 5.0)]
    >>> g.set(2, 1); g.own([2]); sorted(g.partitions)
    [2]
    """

    def __init__(self, gauge: Gauge) -> None:
        self.gauge = gauge
        self.partitions: set[int] = set()

    def set(self, partition: int, value: float) -> None:
        self.gauge.labels(partition=str(partition)).set(value)
        self.partitions.add(partition)

    def forget(self, partitions: Any) -> None:
        """Remove the series of ``partitions`` (ints) that are not ours any more."""
        for p in set(partitions) & self.partitions:
            self.gauge.remove(str(p))
            self.partitions.discard(p)

    def own(self, partitions: Any) -> None:
        """Keep only the series of ``partitions``, the current assignment."""
        self.forget(self.partitions - set(partitions))


class WorkerMetrics:
    """The worker's metrics, in their own registry (one per worker process)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.events = Counter("intent_events_total", "Valid events processed, by type", ["type"], registry=r)
        self.duplicates = Counter(
            "intent_events_duplicate_total", "Events dropped as repeats of a recent event_id", registry=r
        )
        self.dlq = Counter(
            "intent_dlq_total", "Messages sent to the dead-letter topic, by reason", ["reason"], registry=r
        )
        self.intents = Counter("intent_intents_published_total", "Purchase intents published", registry=r)
        self.latency = Histogram(
            "intent_event_to_intent_latency_seconds",
            "Time from the event to its intent: basis=ingest (Kafka timestamp) or event_time",
            ["basis"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.scoring = Histogram(
            "intent_scoring_seconds",
            "Model call per scored micro-batch, from submission (queue included) to answer",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_pairs = Histogram(
            "intent_scoring_batch_pairs",
            "(user, item) pairs per scored batch",
            buckets=(1, 4, 16, 64, 256, 1024, 4096),
            registry=r,
        )
        self.batch_events = Histogram(
            "intent_batch_events", "Events per micro-batch", buckets=(1, 4, 16, 64, 256, 1024), registry=r
        )
        self.users = Gauge("intent_users_in_state", "Users held in this worker's tables", registry=r)
        self.items = Gauge(
            "intent_items_in_state", "Items held in this worker's copy of the global items table", registry=r
        )
        self.expired = Counter(
            "intent_state_expired_total",
            "Keys removed by the retention (INTENT_STATE_TTL_DAYS, event time), by table",
            ["table"],
            registry=r,
        )
        self.restored_records = Gauge(
            "intent_restored_records", "Changelog records read by the latest table recovery", registry=r
        )
        self.restore_seconds = Gauge(
            "intent_restore_seconds",
            "Seconds the latest table recovery took (assignment to ready)",
            registry=r,
        )
        self.source_log_restarts = Counter(
            "intent_source_log_restarts_total",
            "Events partitions found to be a new log (a recreated or migrated topic): their "
            "offsets count in a new epoch",
            registry=r,
        )
        self.lag = Gauge(
            "intent_consumer_lag",
            "Unconsumed events per partition this worker owns "
            "(a partition's series moves with it on a rebalance)",
            ["partition"],
            registry=r,
        )
        self.partition_lag = PartitionGauge(self.lag)
        self.model = Info("intent_model", "Model artifact being served", registry=r)
        # Live accuracy, per model version and role (champion: published; challenger:
        # shadow-scored), so that neither a hot swap nor a challenger mixes two models.
        self.live = Gauge(
            "intent_live_metric",
            "Live precision/recall/F1 of intents (rolling window of resolved outcomes), by model "
            "version and role (champion | challenger)",
            ["metric", "model_version", "role"],
            registry=r,
        )
        self.outcomes = Counter(
            "intent_outcomes_total",
            "Resolved intents: tp, fp, fn, by model version and role",
            ["outcome", "model_version", "role"],
            registry=r,
        )
        self.shadow_intents = Counter(
            "intent_shadow_intents_published_total",
            "The challenger's would-be intents, published to the shadow topic",
            registry=r,
        )
        self.shadow_scoring = Histogram(
            "intent_shadow_scoring_seconds",
            "The challenger's share of a batch's model call (its scoring, in the scoring process)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.threshold = Gauge(
            "intent_threshold",
            "The probability threshold intents are held to, by model version and role (moves with "
            "INTENT_TARGET_INTENTS_PER_DAY)",
            ["model_version", "role"],
            registry=r,
        )
        self.challenger_difference = Gauge(
            "intent_challenger_difference",
            "Challenger minus champion on the same live window: estimate and 95% bootstrap bounds "
            "(resampling users), by metric (precision | recall)",
            ["metric", "bound"],
            registry=r,
        )
        self.feature_log = Counter(
            "intent_feature_log_total",
            "Scored pairs logged with their feature vectors (INTENT_FEATURE_LOG_RATE)",
            registry=r,
        )
        self.ready = Gauge("intent_ready", "1 when the worker is consuming, else 0", registry=r)
        self.model_reloads = Counter("intent_model_reloads_total", "Models hot-swapped in", registry=r)
        self.model_reload_failures = Counter(
            "intent_model_reload_failures_total", "New artifacts refused (corrupt or mismatched)", registry=r
        )
        self.scoring_failures = Counter(
            "intent_scoring_failures_total", "Model calls that raised or timed out", registry=r
        )
        # data quality (stream/monitoring/quality.py), flushed once per batch
        self.quality_events = Counter(
            "intent_quality_events_total", "Events checked for quality", ["type", "source"], registry=r
        )
        self.quality_complete = Counter(
            "intent_quality_complete_total",
            "Events carrying every field the features use",
            ["type", "source"],
            registry=r,
        )
        self.quality_missing = Counter(
            "intent_quality_missing_total",
            "Events missing an expected field",
            ["field", "source"],
            registry=r,
        )
        self.lateness = Histogram(
            "intent_event_lateness_seconds",
            "Ingest (Kafka) time minus event time",
            ["source"],
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.late_events = Counter(
            "intent_late_events_total", "Events later than the allowed grace", ["type", "source"], registry=r
        )
        self.future_events = Counter(
            "intent_future_events_total",
            "Events whose time is ahead of ingest",
            ["type", "source"],
            registry=r,
        )
        self.outliers = Counter(
            "intent_outliers_total", "Events outside rolling mean +- 3 sigma, by field", ["field"], registry=r
        )
        self.excluded = Counter(
            "intent_quality_excluded_total",
            "Outlier events kept out of the features (INTENT_EXCLUDE_OUTLIERS)",
            registry=r,
        )
        self.bot_users = Counter(
            "intent_bot_users_total", "Users marked bot-like (events per minute)", registry=r
        )
        self.suppressed = Counter(
            "intent_intents_suppressed_total", "Intents not published, by reason", ["reason"], registry=r
        )
        self.history_unscored = Counter(
            "intent_history_unscored_total",
            "Users not scored in a batch: all their events in it were written to the events topic "
            "longer ago than INTENT_MAX_INTENT_AGE_S (history: state only, no intent)",
            registry=r,
        )
        # model health
        self.drift = Counter(
            "intent_drift_total", "Drift detected (ADWIN), by detector", ["detector"], registry=r
        )
        self.drift_raised_at = Gauge(
            "intent_drift_raised_timestamp_seconds",
            "Unix time the detector last raised a drift",
            ["detector"],
            registry=r,
        )
        self.live_by_activity = Gauge(
            "intent_live_metric_by_activity",
            "Live precision/recall/F1 by user activity bucket (cold < 5 events), model version and role",
            ["metric", "bucket", "model_version", "role"],
            registry=r,
        )

    def count_quality(
        self, pending: Mapping[tuple[str, str, str], int], lateness: Mapping[str, Sequence[float]]
    ) -> None:
        """Export a batch's data-quality counts (``(kind, label, source) -> n``, from
        :meth:`stream.monitoring.quality.QualityMonitor.take_pending`) and lateness samples."""
        by_type_source = {
            "events": self.quality_events,
            "complete": self.quality_complete,
            "late": self.late_events,
            "future": self.future_events,
        }
        for (kind, label, source), n in pending.items():
            if kind in by_type_source:
                by_type_source[kind].labels(type=label, source=source).inc(n)
                if kind == "events":  # completeness reads 0% rather than "no data"
                    self.quality_complete.labels(type=label, source=source)
            elif kind == "missing":
                self.quality_missing.labels(field=label, source=source).inc(n)
            elif kind == "outlier":
                self.outliers.labels(field=label).inc(n)
            elif kind == "bot_users":
                self.bot_users.inc(n)
        for source, seconds in lateness.items():  # one labels() and one observe_many a source
            observe_many(self.lateness.labels(source=source), seconds)

    def drift_raised(self, detector: str, at: float) -> None:
        """A drift detector fired at unix time ``at``."""
        self.drift.labels(detector=detector).inc()
        self.drift_raised_at.labels(detector=detector).set(at)

    def render(self, names: Collection[str] = ()) -> bytes:
        return render_registry(self.registry, names)


def render_registry(registry: CollectorRegistry, names: Collection[str]) -> bytes:
    """The exposition of ``registry``; with ``names``, of those samples' metrics only."""
    return generate_latest(registry.restricted_registry(names) if names else registry)
