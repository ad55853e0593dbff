"""``intent replay``: publish a clickstream to the ``events`` topic.

Pacing: ``speed=None`` publishes as fast as the broker takes it; ``speed=X`` keeps the
original inter-event gaps divided by X (gaps longer than ``max_gap_s`` after
compression are cut to it, so the month between JD.com slices does not stall a demo);
``rate=N`` publishes at a fixed N events per second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stream.config import Settings
from stream.domain.events import Event, encode_event
from stream.io.kafka import ensure_topics, producer

__all__ = ["ReplayStats", "replay_events"]


@dataclass
class ReplayStats:
    sent: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


async def replay_events(
    events: Sequence[Event],
    settings: Settings,
    speed: float | None = None,
    rate: float | None = None,
    max_gap_s: float = 2.0,
    progress: bool = False,
    on_progress: Callable[[int], None] | None = None,
    kafka_ts: Callable[[Event], int] | None = None,
) -> ReplayStats:
    """Publish ``events`` keyed by user_id; returns how many and how fast. Each record's
    Kafka timestamp is the time it is written, or ``kafka_ts(event)`` (epoch ms) when
    given: ``lambda e: e.ts`` writes them as a topic's history would hold them."""
    await ensure_topics(settings)
    prod = producer(settings)
    await prod.start()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(events), desc="replaying", unit="ev", mininterval=0.5)
    started = time.monotonic()
    due = 0.0
    try:
        pending = []
        for k, event in enumerate(events):
            if rate:
                due = k / rate
            elif speed and k:
                gap = max(event.ts - events[k - 1].ts, 0) / 1000 / speed
                due += min(gap, max_gap_s)
            if rate or speed:
                wait = started + due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            pending.append(
                await prod.send(
                    settings.topic_events,
                    encode_event(event),
                    key=event.user_id.encode(),
                    timestamp_ms=None if kafka_ts is None else kafka_ts(event),
                )
            )
            if len(pending) >= 1000:
                await asyncio.gather(*pending)
                pending.clear()
            if bar is not None:
                bar.update(1)
            if on_progress is not None:
                on_progress(k + 1)
        await asyncio.gather(*pending)
        await prod.flush()
    finally:
        await prod.stop()
        if bar is not None:
            bar.close()
    return ReplayStats(len(events), time.monotonic() - started)
