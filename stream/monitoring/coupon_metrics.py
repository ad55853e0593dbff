"""``intent coupons``' own metrics: its decisions, what it could not read, its lag and
today's budget (served on ``INTENT_COUPON_METRICS_PORT``).

>>> m = CouponMetrics(); m.decisions.labels(outcome="granted").inc()
>>> b"intent_coupon_decisions_total" in m.render()
True
"""

from __future__ import annotations

from collections.abc import Collection

from prometheus_client import CollectorRegistry, Counter, Gauge

from stream.monitoring.metrics import PartitionGauge, render_registry

__all__ = ["CouponMetrics"]


class CouponMetrics:
    """``intent coupons``' metrics (its own registry and port, see
    ``INTENT_COUPON_METRICS_PORT``)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.decisions = Counter(
            "intent_coupon_decisions_total",
            "Coupon decisions by outcome: granted, below_band, above_band, cooldown, budget",
            ["outcome"],
            registry=r,
        )
        self.unreadable = Counter(
            "intent_coupon_unreadable_total",
            "Intents that could not be read, by reason",
            ["reason"],
            registry=r,
        )
        self.redelivered = Counter(
            "intent_coupon_redelivered_total", "Intents read again that already had a decision", registry=r
        )
        self.lag = Gauge(
            "intent_coupon_consumer_lag",
            "Intents not yet decided, per partition owned",
            ["partition"],
            registry=r,
        )
        self.partition_lag = PartitionGauge(self.lag)
        self.budget_left = Gauge(
            "intent_coupon_budget_remaining",
            "Coupons left in today's budget (UTC processing day)",
            registry=r,
        )
        self.ready = Gauge(
            "intent_coupon_ready",
            "1 when the ledger is restored and intents are consumed, else 0",
            registry=r,
        )

    def render(self, names: Collection[str] = ()) -> bytes:
        return render_registry(self.registry, names)
