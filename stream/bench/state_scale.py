"""``intent bench --state-scale USERS``: the worker's state at a shop's scale.

Generated users with realistic histories (:mod:`stream.bench.histories`: Taobao's action
mix, a long tail of events a user, a skewed catalogue) are written to a fresh ``events``
topic as a backfill (each record's Kafka timestamp its event time, users one after
another), then:

1. **I/O limit** on the same topic: plain aiokafka consume -> parse -> publish over its
   first ``io_events`` records (the same measure as ``intent bench``'s), once before the
   worker and once after it; the better round is kept (one round moves by a third on this
   shared 2-core machine).
2. **Worker**: ``intent worker`` with the chosen store drains the whole topic: events/s,
   the worker process's resident memory when ready (no state) and at the end, so RSS a
   user is what the state adds, and the users and items it holds. Serialized bytes a user
   are measured on a sample of the same users replayed offline through the same state
   code (:func:`~stream.domain.state_codec.encode_user`).
3. **SIGKILL and restart** with the same identity and data directory: seconds until ready
   and until every event is committed; the records its recovery read. With the memory
   store this is the restore from the changelogs alone; with RocksDB it is the restart
   with local state kept (``local_restore_s``), and a third worker with an empty data
   directory then measures the restore from the changelogs alone.

Every figure is the worker's own (its ``/metrics``: ``intent_restored_records``,
``intent_restore_seconds``), or the bench's clock around it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stream.bench.harness import bench_broker, ensure_model, run_directory, stage_settings
from stream.bench.histories import HistoryShape, taobao_shape
from stream.config import Settings, replace
from stream.domain.state_codec import encode_user
from stream.io.kafka import ensure_topics, group_lag, producer
from stream.io.state_dump import offline_states
from stream.io.worker_process import WorkerProcess
from stream.processing.item_events import partition_for

__all__ = ["StateScaleConfig", "run_state_scale", "fill_state", "TARGETS"]

TARGETS = {
    "rocksdb": {"rss_mb": "< 1500", "worker_vs_io_limit": ">= 0.5", "ready_after_kill_s": "< 15"},
    "memory": {"rss_per_user_bytes": "<= 1536", "restore_vs_io_limit": ">= 0.5"},
}


@dataclass
class StateScaleConfig:
    users: int = 100_000
    store: str = "memory"
    seed: int = 0
    #: the I/O limit is measured on this many of the topic's first records
    io_events: int = 2_000_000
    #: users replayed offline for the serialized size
    sample_users: int = 10_000


async def _produce(
    settings: Settings, shape: HistoryShape, cfg: StateScaleConfig, log: Callable[[str], None]
) -> tuple[int, list[Any]]:
    """Write the users' histories to the events topic, one record batch per partition at a
    time; returns the events written and the first chunk (for the offline sample)."""
    await ensure_topics(settings)
    prod = producer(settings, acks=1, linger_ms=20, max_batch_size=1_048_576)
    await prod.start()
    n, first, started = 0, None, time.monotonic()
    try:
        parts = sorted(await prod.partitions_for(settings.topic_events))
        for chunk in shape.generate(cfg.users, seed=cfg.seed):
            first = first or chunk
            by_partition: dict[int, list[tuple[bytes, bytes, int]]] = {}
            where: dict[bytes, int] = {}
            for key, value, ts in chunk.records:
                p = where.get(key)
                if p is None:
                    p = where[key] = partition_for(key, len(parts))
                by_partition.setdefault(p, []).append((key, value, ts))
            pending = []
            for p, rows in by_partition.items():
                batch = prod.create_batch()
                for key, value, ts in rows:
                    if batch.append(key=key, value=value, timestamp=ts) is None:
                        pending.append(await prod.send_batch(batch, settings.topic_events, partition=p))
                        batch = prod.create_batch()
                        batch.append(key=key, value=value, timestamp=ts)
                pending.append(await prod.send_batch(batch, settings.topic_events, partition=p))
            await asyncio.gather(*pending)
            n += chunk.n_events
            log(f"   written {n:,} events of {chunk.users[-1]} ({time.monotonic() - started:.0f} s)")
    finally:
        await prod.stop()
    return n, [first]


def _rss_main_mb(proc: WorkerProcess) -> float:
    """Resident size of the worker process itself (its state), not its scoring process."""
    status = Path(f"/proc/{proc.proc.pid}/status").read_text()
    return next(int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:"))


def _wait_committed(settings: Settings, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if asyncio.run(group_lag(settings, settings.topic_events)) == 0:
            return time.monotonic() - start
        time.sleep(0.25)
    raise TimeoutError(f"events not all committed within {timeout:.0f} s")


def _restart(
    settings: Settings, log_path: Path, port: int, env: dict[str, str]
) -> tuple[WorkerProcess, dict[str, float]]:
    """A worker started now: seconds to ready, to every event committed, and its recovery."""
    started = time.monotonic()
    proc = WorkerProcess(settings, log_path, port=port, env=env)
    proc.wait_ready(timeout=900)
    ready = time.monotonic() - started
    _wait_committed(settings, 900)
    caught_up = time.monotonic() - started
    m = proc.metrics()
    return proc, {
        "ready_s": round(ready, 2),
        "caught_up_s": round(caught_up, 2),
        "restore_records": int(m.get("intent_restored_records", 0)),
        "restore_s": round(m.get("intent_restore_seconds", 0.0), 2),
    }


def fill_state(
    s: Settings,
    cfg: StateScaleConfig,
    shape: HistoryShape,
    run_dir: Path,
    env: dict[str, str],
    log: Callable[[str], None],
    io_limit: bool = False,
) -> tuple[dict[str, Any], WorkerProcess]:
    """Write ``cfg.users`` users' histories to ``s``'s events topic and let a worker drain
    them (with the I/O limit on the same topic first, when asked): the figures, and the
    worker, still running (the caller kills it)."""
    from stream.bench.throughput import drain_rate, pass_through

    log(f"   {cfg.users:,} users' histories (mean {shape.mean_events:.0f} events a user) to {s.topic_events}")
    n_events, (first,) = asyncio.run(_produce(s, shape, cfg, log))
    result: dict[str, Any] = {
        "store": cfg.store,
        "users": cfg.users,
        "events": n_events,
        "events_per_user": round(n_events / cfg.users, 1),
    }
    sample = set(first.users[: cfg.sample_users])
    states = offline_states(e for e in first.events() if e.user_id in sample)
    result["serialized_bytes_per_user"] = round(
        float(np.mean([len(encode_user(x)) for x in states.values()])), 1
    )
    io_n = min(cfg.io_events, n_events)

    def io_round() -> float:
        io_settings = replace(stage_settings(s, "scale-io"), topic_events=s.topic_events)
        return round(asyncio.run(pass_through(io_settings, io_n)), 1)

    io_runs = []
    if io_limit:  # a round before the worker and one after it: the box's mood moves by a third
        log(f"   I/O limit on the topic's first {io_n:,} events")
        io_runs.append(io_round())
    log(f"   the worker ({cfg.store} store) drains {n_events:,} events")
    ws = replace(s, data_dir=run_dir / f"worker-{s.app_id}")
    proc = WorkerProcess(ws, run_dir / f"{s.app_id}.log", env=env)
    try:
        proc.wait_ready(timeout=300)
        rss0 = _rss_main_mb(proc)
        half: list[float] = []  # RSS and users held when half the events are processed

        def at_half(done: float) -> None:
            if not half and done >= n_events / 2:
                half.extend((_rss_main_mb(proc), proc.metrics().get("intent_users_in_state", 0.0)))

        eps = drain_rate(proc, n_events, 7200, at_half)
        _wait_committed(ws, 600)
        m = proc.wait(lambda m: m.get("intent_users_in_state", 0) >= cfg.users * 0.999, 60)
        rss1 = _rss_main_mb(proc)
        if io_limit:
            log(f"   I/O limit again ({io_runs[0]:,.0f} events/s before the worker)")
            io_runs.append(io_round())
    except BaseException:
        proc.kill()
        raise
    result.update(
        worker_eps=round(eps, 1),
        rss_baseline_mb=round(rss0, 1),
        rss_mb=round(rss1, 1),
        rss_per_user_bytes=round((rss1 - rss0) * 1024 * 1024 / cfg.users, 1),
        # what one more user costs: the RSS between half the users and all of them (the
        # worker's fixed memory, its buffers and caches, is already there at half)
        rss_marginal_bytes_per_user=(
            round((rss1 - half[0]) * 1024 * 1024 / (m.get("intent_users_in_state", 0) - half[1]), 1)
            if half and m.get("intent_users_in_state", 0) > half[1]
            else None
        ),
        users_in_state=int(m.get("intent_users_in_state", 0)),
        items_in_state=int(m.get("intent_items_in_state", 0)),
    )
    if io_limit:
        result.update(io_limit_eps=max(io_runs), io_limit_runs=io_runs, io_limit_events=io_n)
        result["worker_vs_io_limit"] = round(eps / result["io_limit_eps"], 3)
    log(f"   {eps:,.0f} events/s; worker RSS {rss0:,.0f} MB ready, {rss1:,.0f} MB with {cfg.users:,} users")
    return result, proc


def run_state_scale(
    cfg: StateScaleConfig, base: Settings, log: Callable[[str], None] = print
) -> dict[str, Any]:
    ensure_model(base, log)
    shape = taobao_shape(log=log)
    run_dir = run_directory("state-scale")
    env = {"INTENT_STORE": f"{cfg.store}://", "INTENT_SESSION_TIMEOUT_S": str(base.session_timeout_s)}
    with bench_broker(base, run_dir) as base:
        s = stage_settings(base, f"scale-{cfg.store}")
        log("1/2 histories, the I/O limit on their topic, and the worker draining them")
        result, proc = fill_state(s, cfg, shape, run_dir, env, log, io_limit=True)
        proc.kill()  # SIGKILL
        ws = replace(s, data_dir=run_dir / f"worker-{s.app_id}")
        log("2/2 SIGKILL, then a restart with the same identity and data directory")
        second, after_kill = _restart(ws, run_dir / "scale-restarted.log", proc.port, env)
        second.kill()
        result.update(
            ready_after_kill_s=after_kill["ready_s"],
            caught_up_after_kill_s=after_kill["caught_up_s"],
        )
        if cfg.store == "rocksdb":
            result["local_restore_s"] = after_kill["restore_s"]
            result["local_restore_records"] = after_kill["restore_records"]
            log("   and one with an empty data directory: the restore from the changelogs alone")
            empty = replace(ws, data_dir=run_dir / "worker-empty")
            third, alone = _restart(empty, run_dir / "scale-empty.log", proc.port, env)
            third.kill()
        else:
            result["local_restore_s"] = None
            alone = after_kill
        result["restore_records"] = alone["restore_records"]
        result["restore_s"] = alone["restore_s"]
        result["restore_rate"] = round(alone["restore_records"] / max(alone["restore_s"], 1e-6), 1)
        result["restore_vs_io_limit"] = round(result["restore_rate"] / result["io_limit_eps"], 3)
        result["targets"] = _check(result)
        return result


def _check(r: dict[str, Any]) -> dict[str, bool]:
    if r["store"] == "rocksdb":
        return {
            "RSS < 1.5 GB": r["rss_mb"] < 1500,
            "worker >= 0.5 x I/O limit": r["worker_vs_io_limit"] >= 0.5,
            "ready after SIGKILL < 15 s": r["ready_after_kill_s"] < 15,
        }
    return {
        "RSS a user <= 1.5 KB": r["rss_per_user_bytes"] <= 1536,
        "restore >= 0.5 x I/O limit (records/s)": r["restore_vs_io_limit"] >= 0.5,
    }
