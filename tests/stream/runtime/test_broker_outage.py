"""The broker goes away and comes back: the worker reports not-ready, neither crashes nor
spins, and recovers (the embedded broker is in memory, so it comes back empty)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from stream.io.broker import EmbeddedBroker, free_port
from stream.io.kafka import ensure_topics
from stream.io.replay import replay_events
from tests.conftest import WorkerProcess, settings_for, wait_for

pytestmark = pytest.mark.integration


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def test_worker_survives_a_broker_outage(quick_model, jdata_events, tmp_path: Path) -> None:
    port = free_port()
    broker = EmbeddedBroker(port=port).start()
    w = WorkerProcess(broker.bootstrap, quick_model[0], tmp_path / "w", tmp_path / "w.log")
    try:
        w.wait_ready()
        s = settings_for(broker)
        asyncio.run(replay_events(jdata_events[:200], s))
        wait_for(lambda: w.metrics().get("intent_events_total", 0) >= 200, what="first events")
        broker.stop()
        wait_for(lambda: w.health() == 503, timeout=15, what="not-ready while the broker is down")
        before, t0 = cpu_seconds(w.proc.pid), time.monotonic()
        time.sleep(8)
        busy = (cpu_seconds(w.proc.pid) - before) / (time.monotonic() - t0)
        assert w.proc.poll() is None, "worker crashed"
        assert busy < 0.5, f"worker spins while the broker is down ({busy:.0%} of a core)"
        assert w.health() == 503
        broker = EmbeddedBroker(port=port).start()
        asyncio.run(ensure_topics(s))
        wait_for(lambda: w.health() == 200, timeout=120, what="ready again after the broker returned")
        # The restarted in-memory broker lost every offset, so the worker's old positions
        # may lie past the new topics' ends; it takes in events once the logs pass them.
        asyncio.run(replay_events(jdata_events[200:1400], s))
        wait_for(
            lambda: w.metrics().get("intent_events_total", 0) > 200,
            timeout=120,
            what="events after the outage processed",
        )
    finally:
        w.stop()
        broker.stop()
