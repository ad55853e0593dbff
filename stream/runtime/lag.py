"""The consumer lag of the events partitions a worker owns, on its metrics.

A partition's series goes when it is revoked (the worker's revocation handler forgets
it) and is set again by its new owner, so a sum over the fleet counts each partition
once. The committed offset is read from Faust's consumer (its own bookkeeping of what
it committed), the end from the broker.
"""

from __future__ import annotations

from typing import Any

from stream.monitoring.metrics import WorkerMetrics

__all__ = ["report_owned_lag"]


def _owned(consumer: Any, topic: str) -> list[Any]:
    return [tp for tp in consumer.assignment() if tp.topic == topic]


async def report_owned_lag(consumer: Any, topic: str, metrics: WorkerMetrics) -> None:
    """Set ``metrics.partition_lag`` for each partition of ``topic`` that ``consumer`` owns."""
    assigned = _owned(consumer, topic)
    ends = {}
    if assigned:
        try:
            ends = await consumer.highwaters(*assigned)
        except Exception:  # lag is best effort; a rebalance may be in progress
            return
    owned = set(_owned(consumer, topic))  # a rebalance may have run meanwhile
    for tp in assigned:
        if tp in owned:
            committed = consumer._committed_offset.get(tp)  # noqa: SLF001
            pos = (committed + 1) if committed is not None else 0
            metrics.partition_lag.set(tp.partition, max(ends.get(tp, 0) - pos, 0))
    metrics.partition_lag.own(tp.partition for tp in owned)
