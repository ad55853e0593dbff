"""``intent bench --failover``: how long a worker killed with SIGKILL takes to serve again.

One worker, default settings (``INTENT_*`` from the environment, nothing shortened for
the measurement), on its own topics. The JD sample's April slice is replayed; when the
worker has processed half of it, it is killed with SIGKILL (no clean shutdown, no final
commit) and a new worker is started with the same settings at once. Measured from that
start:

* ``ready_s``: until ``/healthz`` answers 200 (partitions assigned, tables recovered
  from their changelogs, model loaded);
* ``caught_up_s``: until the group has committed every event of the slice;

then the users changelog is compared with an offline replay of the slice (nothing lost,
nothing counted twice). The new worker's log (``failover-restarted.log`` in the run
directory) has its lifecycle: joining, assignment, recovery progress, ready.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stream.bench.harness import tagged_settings
from stream.config import Settings, replace
from stream.domain.events import Event
from stream.io.kafka import group_lag
from stream.io.replay import replay_events
from stream.io.state_dump import changelog_states, dump_lines, offline_states
from stream.io.worker_process import WorkerProcess

__all__ = ["run_failover", "APRIL_SLICE"]

APRIL_SLICE = "JData_Action_201604"


def _poll(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> float:
    """Seconds until ``predicate()`` holds; TimeoutError after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    raise TimeoutError(f"not within {timeout:.0f} s")


def failover_once(
    settings: Settings,
    events: list[Event],
    run_dir: Path,
    tag: str,
    log: Callable[[str], None] = print,
    **env: str,
) -> dict[str, Any]:
    """Kill a worker half-way through ``events`` and time its replacement (see the module
    docstring); ``env`` goes to both workers."""
    s = replace(tagged_settings(settings, f"failover-{tag}", tag), data_dir=run_dir / f"failover-{tag}")
    # the worker's own default, not the 6 s that WorkerProcess gives the tests
    env = {"INTENT_SESSION_TIMEOUT_S": str(s.session_timeout_s), **env}
    first = WorkerProcess(s, run_dir / f"failover-{tag}-first.log", env=env)
    try:
        first.wait_ready(timeout=180)
        asyncio.run(replay_events(events, s))
        half = len(events) // 2
        first.wait(lambda m: m.get("intent_events_total", 0) >= half, 300)
        processed = first.metrics().get("intent_events_total", 0)
    finally:
        first.kill()  # SIGKILL
    started = time.monotonic()
    second = WorkerProcess(s, run_dir / f"failover-{tag}-restarted.log", port=first.port, env=env)
    try:
        second.wait_ready(timeout=300)
        ready_s = time.monotonic() - started
        _poll(lambda: asyncio.run(group_lag(s, s.topic_events)) == 0, 300, 0.25)
        caught_up_s = time.monotonic() - started
        same = dump_lines(asyncio.run(changelog_states(s))) == dump_lines(offline_states(events))
    finally:
        second.stop()
    log(
        f"   {tag}: killed after {processed:,.0f} of {len(events):,} events; restarted worker "
        f"ready after {ready_s:.1f} s, caught up after {caught_up_s:.1f} s; state equals an "
        f"offline replay: {same}"
    )
    return {
        "killed_after_events": int(processed),
        "ready_s": round(ready_s, 1),
        "caught_up_s": round(caught_up_s, 1),
        "state_matches_offline": same,
        "log": str(run_dir / f"failover-{tag}-restarted.log"),
    }


def run_failover(
    base: Settings, rounds: int = 1, log: Callable[[str], None] = print, limit: int | None = None, **env: str
) -> dict[str, Any]:
    """``rounds`` kill-and-restart measurements on the embedded broker (or
    ``INTENT_BENCH_BOOTSTRAP``); the worker's settings are ``base``'s. ``limit`` takes
    the slice's first events only (tests)."""
    from stream.bench.harness import bench_broker, ensure_model, run_directory
    from stream.domain.readers import read_clickstream

    ensure_model(base, log)
    events = [e for e in read_clickstream([base.sample_data]).events if e.source == APRIL_SLICE]
    if not events:
        events = read_clickstream([base.sample_data]).events  # another data set: all of it
    events = events[:limit] if limit else events
    run_dir = run_directory("failover")
    log(
        f"failover: SIGKILL half-way through {len(events):,} real events, restart at once "
        f"(session timeout {base.session_timeout_s:g} s); {rounds} round(s)"
    )
    with bench_broker(base, run_dir) as base:
        runs = [
            failover_once(base, events, run_dir, f"r{k}-{uuid.uuid4().hex[:4]}", log, **env)
            for k in range(rounds)
        ]
    return {
        "events": len(events),
        "session_timeout_s": base.session_timeout_s,
        "runs": runs,
        "ready_s": max(r["ready_s"] for r in runs),
        "caught_up_s": max(r["caught_up_s"] for r in runs),
        "state_matches_offline": all(r["state_matches_offline"] for r in runs),
        "target": "ready_s < 15",
    }
