"""The bench's ceiling for the worker: a Faust app that only forwards.

It takes ``events`` the way the worker does (:mod:`stream.runtime.intake`, same batch size and
wait), publishes each event's bytes to ``intents`` through the producer, as the worker
publishes its intents, and acknowledges the batch once delivered: no parsing, no state,
no model. What it sustains is what Faust's consumer (its fetch thread, conductor and
offset tracking) leaves for a worker on this box, next to the plain aiokafka I/O limit.
Run with ``python -m stream.bench.passthrough_agent`` and the worker's ``INTENT_*`` environment.
"""

from __future__ import annotations

import asyncio

import faust

from stream.config import Settings
from stream.monitoring.metrics import WorkerMetrics
from stream.runtime.app import io_options, subscribe_events
from stream.runtime.faust_patches import AppHooks, set_app_hooks

__all__ = ["create_passthrough_app"]


def create_passthrough_app(settings: Settings) -> tuple[faust.App, WorkerMetrics]:
    app = faust.App(
        f"{settings.app_id}-passthrough",
        store="memory://",
        datadir=str(settings.data_dir / "passthrough"),
        **io_options(settings),  # the worker's
    )
    set_app_hooks(app, AppHooks(fetch_max_wait_ms=settings.fetch_max_wait_ms))  # as the worker's
    incoming = subscribe_events(app, settings)  # the worker's intake
    metrics = WorkerMetrics()
    counted = metrics.events.labels(type="forwarded")

    @app.task
    async def forward() -> None:
        send, consumer = app.producer.send, app.consumer
        while True:
            batch = await incoming.take()
            sent = [await send(settings.topic_intents, m.key, m.value, None, None, None) for m in batch]
            await asyncio.gather(*sent)
            for m in batch:
                m.ack(consumer)
            counted.inc(len(batch))

    return app, metrics


if __name__ == "__main__":
    from stream.runtime.app import run_reference_agent

    run_reference_agent(create_passthrough_app)
