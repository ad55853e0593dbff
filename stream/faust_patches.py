"""Changes to Faust, applied once at import by :mod:`stream.app`.

1. Fetch wait. Faust hard-codes ``fetch_max_wait_ms=1500`` for its worker consumer. Real
   Kafka answers a waiting fetch as soon as data arrives, but the embedded broker (Tansu)
   holds it for the full wait, which would add up to 1.5 s to every event. The app's
   ``intent_fetch_max_wait_ms`` is applied instead.

2. Recovery end. Faust restores a table by reading its changelog up to the end offsets
   the broker reports when recovery starts, then lets the agents run. Tansu reports one
   past the first offset of a partition's last record batch, not past its last record
   (see :func:`stream.kafka.end_offsets`), so a restarted worker began serving before it
   had applied the rest of that batch: users whose latest state was there started over
   from older state or from nothing (seen: the SIGKILL-and-restart test lost 5-10 events
   in about half its runs once deliveries got faster). The app's ``intent_end_offsets``
   checks the reported ends by reading; Faust's recovery then waits for the true end.
"""
from __future__ import annotations

from typing import Any

__all__ = ["apply_faust_patches"]


def _patch_recovery_highwaters() -> None:
    from faust.tables.recovery import Recovery

    original = Recovery._build_highwaters

    async def build(self: Any, consumer: Any, tps: Any, destination: Any, title: str) -> None:
        await original(self, consumer, tps, destination, title)
        read_ends = getattr(self.app, "intent_end_offsets", None)
        if read_ends is None or not tps:
            return
        try:
            ends = await read_ends(set(tps))
        except Exception as exc:  # the broker's answer stands
            self.log.warning("could not check the changelogs' end offsets: %r", exc)
            return
        for tp, end in ends.items():
            # Faust keeps the offset of the last record, hence the -1.
            destination[tp] = max(destination.get(tp, -1), end - 1)

    Recovery._build_highwaters = build


def apply_faust_patches() -> None:
    """Apply the changes (idempotent)."""
    from faust.transport.drivers import aiokafka as driver

    original = driver.AIOKafkaConsumerThread._create_worker_consumer
    if getattr(original, "_intent_patched", False):
        return
    _patch_recovery_highwaters()

    def create(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        wait = getattr(self.app, "intent_fetch_max_wait_ms", None)
        if wait is not None:
            consumer._fetch_max_wait_ms = int(wait)  # read by the fetcher at start()
        return consumer

    create._intent_patched = True  # type: ignore[attr-defined]
    driver.AIOKafkaConsumerThread._create_worker_consumer = create
