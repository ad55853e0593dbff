"""The bench's ceiling for any Faust worker: an agent that only forwards.

It consumes ``events`` in the worker's micro-batches (``take_events``, same size and
wait) and publishes each event's bytes to ``intents`` through the producer, as the
worker publishes its intents: no parsing, no state, no model. What it sustains is what
Faust's per-message machinery (consumer thread, conductor, stream, acks) leaves for a
worker on this box, next to the plain aiokafka I/O limit. Run with
``python -m stream.passthrough_agent`` and the worker's ``INTENT_*`` environment.
"""
from __future__ import annotations

from typing import Any

import faust

from stream.config import Settings
from stream.metrics import WorkerMetrics

__all__ = ["create_passthrough_app"]


def create_passthrough_app(settings: Settings) -> tuple[faust.App, WorkerMetrics]:
    app = faust.App(f"{settings.app_id}-passthrough", broker=f"kafka://{settings.bootstrap}",
                    store="memory://", web_enabled=False, topic_partitions=settings.partitions,
                    consumer_auto_offset_reset="earliest", stream_wait_empty=False,
                    producer_linger=0.001, datadir=str(settings.data_dir / "passthrough"))
    topic = app.topic(settings.topic_events, key_type=bytes, value_type=bytes,
                      key_serializer="raw", value_serializer="raw")
    metrics = WorkerMetrics()
    counted = metrics.events.labels(type="forwarded")

    @app.agent(topic)
    async def forward(stream: Any) -> None:
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_ms / 1000):
            for event in batch:
                await app.producer.send(settings.topic_intents, event.key, event.value, None, None, None)
            counted.inc(len(batch))

    return app, metrics


if __name__ == "__main__":
    from stream.app import run_reference_agent

    run_reference_agent(create_passthrough_app)
