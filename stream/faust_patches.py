"""A change to Faust's consumer, applied once at import by :mod:`stream.app`.

Faust hard-codes ``fetch_max_wait_ms=1500`` for its worker consumer. Real Kafka answers
a waiting fetch as soon as data arrives, but the embedded broker (Tansu) holds it for
the full wait, which would add up to 1.5 s to every event. The app's
``intent_fetch_max_wait_ms`` is applied instead.
"""
from __future__ import annotations

from typing import Any

__all__ = ["apply_faust_patches"]


def apply_faust_patches() -> None:
    """Apply the change (idempotent)."""
    from faust.transport.drivers import aiokafka as driver

    original = driver.AIOKafkaConsumerThread._create_worker_consumer
    if getattr(original, "_intent_patched", False):
        return

    def create(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        wait = getattr(self.app, "intent_fetch_max_wait_ms", None)
        if wait is not None:
            consumer._fetch_max_wait_ms = int(wait)  # read by the fetcher at start()
        return consumer

    create._intent_patched = True  # type: ignore[attr-defined]
    driver.AIOKafkaConsumerThread._create_worker_consumer = create
