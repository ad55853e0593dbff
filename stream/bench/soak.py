"""``intent bench --soak MINUTES``: the real data set, then generated traffic at full speed;
what went in and out, the lag left at the end, and the worker's memory.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stream.bench.generator import ClickstreamGenerator
from stream.bench.harness import bench_worker, processed, stage_settings
from stream.config import Settings, replace
from stream.domain.readers import read_clickstream
from stream.io.broker import EmbeddedBroker
from stream.io.kafka import ensure_topics
from stream.io.replay import replay_events

__all__ = ["run_soak"]


def run_soak(base: Settings, minutes: float, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Replay the real data set, then generated traffic, at full speed for ``minutes``;
    report what went in and out, the lag left at the end and the worker's memory."""
    from stream.io.kafka import group_lag

    real = read_clickstream([base.sample_data]).events
    gen = ClickstreamGenerator.fit(real)
    run_dir = Path(os.environ.get("INTENT_RUN_DIR", f"/tmp/intent-soak-{os.getpid()}"))
    run_dir.mkdir(parents=True, exist_ok=True)
    broker = EmbeddedBroker(log_file=run_dir / "broker.log").start()
    settings = stage_settings(replace(base, bootstrap=broker.bootstrap), "soak")
    asyncio.run(ensure_topics(settings))
    proc = bench_worker(settings, run_dir / "soak-worker.log")
    try:
        proc.wait(lambda m: m.get("intent_ready") == 1, 120)
        rss_start = proc.rss_mb()
        deadline = time.monotonic() + minutes * 60
        sent, chunk = 0, 0
        log(f"soak: {len(real):,} real events, then generated traffic for {minutes} min")
        asyncio.run(replay_events(real, settings))
        sent += len(real)
        while time.monotonic() < deadline:
            events = gen.generate(50_000, n_users=20_000, prefix=f"S{chunk}-")
            asyncio.run(replay_events(events, settings))
            sent += len(events)
            chunk += 1
            log(f"  {sent:,} events in; worker processed {processed(proc.metrics()):,.0f}")
        m = proc.metrics()
        return {
            "minutes": minutes,
            "events_in": sent,
            "processed": int(m.get("intent_events_total", 0)),
            "duplicates": int(m.get("intent_events_duplicate_total", 0)),
            "dlq": int(m.get("intent_dlq_total", 0)),
            "intents_out": int(m.get("intent_intents_published_total", 0)),
            "lag_at_end": asyncio.run(group_lag(settings, settings.topic_events)),
            "users_in_state": int(m.get("intent_users_in_state", 0)),
            "rss_mb_start": round(rss_start, 1),
            "rss_mb_end": round(proc.rss_mb(), 1),
        }
    finally:
        proc.stop()
        broker.stop()
