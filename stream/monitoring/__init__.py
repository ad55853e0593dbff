"""What the worker watches and exports: data quality, drift, live accuracy of published
intents, and the Prometheus metrics. Each monitor is a small object with an update
and a read; none of them touches Kafka or Faust.

>>> from stream import monitoring
>>> acc = monitoring.LiveAccuracy(window=10)
>>> acc.update("tp"); acc.update("fp")
>>> acc.get()["precision"]
0.5
"""

from stream.monitoring.archive_metrics import ArchiveMetrics
from stream.monitoring.coupon_metrics import CouponMetrics
from stream.monitoring.drift import DriftMonitor
from stream.monitoring.live_accuracy import LiveAccuracy
from stream.monitoring.metrics import PartitionGauge, WorkerMetrics
from stream.monitoring.metrics_server import MetricsServer
from stream.monitoring.outcomes import OutcomeMonitor
from stream.monitoring.quality import QualityConfig, QualityMonitor, Verdict, assess_events

__all__ = [
    "ArchiveMetrics",
    "CouponMetrics",
    "DriftMonitor",
    "LiveAccuracy",
    "MetricsServer",
    "OutcomeMonitor",
    "PartitionGauge",
    "QualityConfig",
    "QualityMonitor",
    "Verdict",
    "WorkerMetrics",
    "assess_events",
]
