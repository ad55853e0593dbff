"""``intent demo``: the whole system on one machine, from nothing.

Starts the embedded broker, trains a quick model from the sample if the model
directory holds none, starts a worker process, replays the sample clickstream with a
progress bar, prints intents as they arrive, and stops once the worker has taken in
every replayed event (or runs on with ``--follow``).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from stream.config import Settings, replace
from stream.domain.readers import read_clickstream
from stream.io.broker import EmbeddedBroker
from stream.io.kafka import consumer
from stream.io.replay import replay_events
from stream.io.worker_process import WorkerProcess
from stream.processing.intents import decode_intent

__all__ = ["run_demo", "wait_until_consumed"]


def consumed(m: dict[str, float]) -> float:
    """Messages the worker has taken in: processed, dropped as repeats, or dead-lettered."""
    return (
        m.get("intent_events_total", 0)
        + m.get("intent_events_duplicate_total", 0)
        + m.get("intent_dlq_total", 0)
    )


def wait_until_consumed(worker: WorkerProcess, n: int, timeout: float) -> dict[str, float]:
    """Metrics once the worker has taken in ``n`` messages (or at ``timeout``)."""
    return worker.wait(lambda m: consumed(m) >= n, timeout)


async def _print_intents(settings: Settings, stop: asyncio.Event, counter: list[int]) -> None:
    from tqdm import tqdm

    cons = consumer(settings, settings.topic_intents)
    await cons.start()
    try:
        while not stop.is_set():
            batch = await cons.getmany(timeout_ms=200)
            for records in batch.values():
                for rec in records:
                    it = decode_intent(rec.value)
                    counter[0] += 1
                    tqdm.write(
                        f"intent  user={it.user_id:<8} item={it.item_id:<8} p={it.probability:.3f} "
                        f"(resnet {it.components['resnet']:.3f}, forest {it.components['forest']:.3f}) "
                        f"latency={it.latency_ms:.0f}ms"
                    )
    finally:
        await cons.stop()


def run_demo(
    settings: Settings, follow: bool = False, speed: float | None = None, limit: int | None = None
) -> int:
    from models.artifact import ArtifactError, verify_artifact

    if not settings.sample_data.exists():
        raise FileNotFoundError(f"sample data not found at {settings.sample_data} (set INTENT_SAMPLE_DATA)")
    try:
        verify_artifact(settings.model_dir)
        print(f"model: {settings.model_dir}")
    except ArtifactError:
        from stream.bench.harness import train_served_model
        from training.pipeline import TrainConfig, train

        print(f"no usable model at {settings.model_dir}: training a quick one on {settings.sample_data}")
        train_served_model(
            settings, lambda out: train([settings.sample_data], out, cfg=TrainConfig(quick=True))
        )
    run_dir = Path(os.environ.get("INTENT_RUN_DIR", "/tmp/intent-demo"))
    run_dir.mkdir(parents=True, exist_ok=True)
    with EmbeddedBroker(log_file=run_dir / "broker.log") as broker:
        settings = replace(settings, bootstrap=broker.bootstrap, data_dir=run_dir / "worker")
        print(f"embedded broker on {broker.bootstrap}")
        (run_dir / "worker.log").unlink(missing_ok=True)
        worker = WorkerProcess(
            settings, run_dir / "worker.log", port=settings.metrics_port or None, new_session=True
        )
        try:
            return asyncio.run(_demo(settings, worker, follow, speed, limit, run_dir))
        finally:
            worker.stop()


async def _demo(
    settings: Settings,
    worker: WorkerProcess,
    follow: bool,
    speed: float | None,
    limit: int | None,
    run_dir: Path,
) -> int:
    read = read_clickstream([settings.sample_data])
    events = read.events[:limit] if limit else read.events
    url = worker.url + "/metrics"
    print(f"worker metrics at {url} (log: {run_dir / 'worker.log'})")
    try:
        await asyncio.to_thread(worker.wait_ready, 120)
    except (RuntimeError, TimeoutError):
        print(f"worker failed to start; see {run_dir / 'worker.log'}", file=sys.stderr)
        return 1
    stop, counter = asyncio.Event(), [0]
    printer = asyncio.create_task(_print_intents(settings, stop, counter))
    stats = await replay_events(events, settings, speed=speed, progress=True)
    m = await asyncio.to_thread(wait_until_consumed, worker, stats.sent, 600)
    await asyncio.sleep(1.0)  # let the last intents reach the printer
    if follow:
        print("replay done; following (Ctrl-C stops)")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass
    stop.set()
    await printer
    m = worker.metrics() or m
    print(
        f"\nreplayed {stats.sent:,} events in {stats.seconds:.1f}s; worker processed "
        f"{m.get('intent_events_total', 0):,.0f}, "
        f"duplicates {m.get('intent_events_duplicate_total', 0):,.0f}, "
        f"DLQ {m.get('intent_dlq_total', 0):,.0f}; intents published "
        f"{m.get('intent_intents_published_total', 0):,.0f} (printed {counter[0]:,}); metrics were at {url}"
    )
    return 0
