"""Prometheus metrics of ``intent archive`` (its own registry and port,
``INTENT_ARCHIVE_METRICS_PORT``), served by :class:`~stream.monitoring.metrics_server.MetricsServer`.

>>> m = ArchiveMetrics()
>>> m.skipped.labels(reason="invalid_json").inc(); m.partition_lag.set(0, 12)
>>> b"intent_archive_consumer_lag" in m.render(["intent_archive_consumer_lag"])
True
"""

from __future__ import annotations

from collections.abc import Collection

from prometheus_client import CollectorRegistry, Counter, Gauge

from stream.monitoring.metrics import PartitionGauge, render_registry

__all__ = ["ArchiveMetrics", "RECOVERY_KINDS"]

#: what the archiver found when it took a partition after a crash (stream.archive.resume)
RECOVERY_KINDS = ("past_commit", "incomplete_flush")


class ArchiveMetrics:
    """The archiver's metrics, in their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.events = Counter(
            "intent_archive_events_total", "Events written to durable archive files", registry=r
        )
        self.files = Counter("intent_archive_files_total", "Archive files made durable", registry=r)
        self.bytes = Counter("intent_archive_bytes_total", "Bytes of archive files made durable", registry=r)
        self.skipped = Counter(
            "intent_archive_skipped_total",
            "Messages not archived: they failed validation (the worker dead-letters them), by reason",
            ["reason"],
            registry=r,
        )
        self.lag = Gauge(
            "intent_archive_consumer_lag",
            "Events of a partition this archiver owns not yet in a durable file",
            ["partition"],
            registry=r,
        )
        self.partition_lag = PartitionGauge(self.lag)
        self.last_file = Gauge(
            "intent_archive_last_file_timestamp_seconds",
            "Unix time the latest archive file was made durable (0: none yet)",
            registry=r,
        )
        self.recoveries = Counter(
            "intent_archive_recoveries_total",
            "Partitions taken after a crash: archived past the committed offset (past_commit), "
            "or a flush cut short removed (incomplete_flush)",
            ["kind"],
            registry=r,
        )
        self.ready = Gauge(
            "intent_archive_ready",
            "1 when the archiver has joined its group and consumes, else 0",
            registry=r,
        )

    def render(self, names: Collection[str] = ()) -> bytes:
        return render_registry(self.registry, names)
