"""The Worker without a broker: what it registers on its app, its readiness, a revocation."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from stream.config import TABLES, Settings
from stream.runtime.app import create_worker
from stream.runtime.faust_patches import app_hooks
from stream.runtime.intake import MessageBatches
from stream.runtime.lifecycle import Lifecycle
from stream.runtime.tables import Deliveries, WorkerTables
from stream.runtime.worker import Worker
from stream.store.memory import MemoryStateStore
from stream.store.table import StateTable


def test_the_worker_runs_as_the_apps_tasks_agent_timers_and_signal_handlers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, fetch_max_wait_ms=7)
    worker = create_worker(settings)
    app = worker.app
    assert [inspect.unwrap(task) for task in app._app_tasks] == [  # timers: wrapped twice
        worker.score_events,
        worker.report_lag,
        worker.load_model,
        worker.reload_model,
        worker.probe_broker,
        worker.expire_state,
    ]
    assert [agent.fun for agent in app.agents.values()] == [worker.count_items]
    # one handler each: the worker drops the intake's buffer itself, after the batches in flight
    for signal, handler in (
        (app.on_partitions_revoked, worker.on_partitions_revoked),
        (app.on_partitions_assigned, worker.on_partitions_assigned),
        (app.on_rebalance_complete, worker.on_rebalance_complete),
    ):
        assert list(signal.iter_receivers(app)) == [handler]
    hooks = app_hooks(app)
    assert hooks.fetch_max_wait_ms == 7 and hooks.end_offsets is not None
    assert [topic for topic, _ in worker.tables.batched] == [
        settings.changelog_topic(name) for name in TABLES
    ]


def test_an_app_without_hooks_keeps_fausts_behaviour() -> None:
    hooks = app_hooks(SimpleNamespace())
    assert hooks.fetch_max_wait_ms is None and hooks.end_offsets is None


def memory_table() -> StateTable:
    store = MemoryStateStore.__new__(MemoryStateStore)
    store.__post_init__()
    return StateTable(store, encode=lambda v: v, decode=lambda v: v, partitions=4)


def bare_worker() -> Worker:
    consumer = SimpleNamespace(_unacked_messages=SimpleNamespace(add=id), highwater=lambda tp: None)
    fake_app: Any = SimpleNamespace(consumer=consumer, consumer_generation_id=1)
    settings = Settings(bootstrap="127.0.0.1:1")  # nothing listens there
    tables = WorkerTables(*(memory_table() for _ in range(4)))
    return Worker(
        settings,
        fake_app,
        Lifecycle("g", None, 10.0),
        MessageBatches(fake_app, max_batch=4, linger_s=0.0),
        None,
        tables,
        Deliveries(),
    )


def ready(worker: Worker) -> float:
    return worker.metrics.ready._value.get()


async def test_ready_needs_the_broker_the_recovered_tables_and_the_warm_model() -> None:
    worker = bare_worker()
    await worker.on_rebalance_complete(None)
    assert ready(worker) == 0 and not worker.lifecycle.ready  # the model is not loaded yet
    worker.health["warm"] = True  # what load_model does once warm
    worker._update_ready()
    assert ready(worker) == 1 and worker.lifecycle.ready
    await worker.probe_broker()
    assert ready(worker) == 0 and worker.health["broker"] is False


async def test_a_revocation_drops_the_buffered_messages_after_the_batches_in_flight() -> None:
    worker = bare_worker()
    worker.health["warm"] = True
    await worker.on_rebalance_complete(None)
    for offset in range(3):
        worker.incoming.put_nowait_enhanced(SimpleNamespace(tp="events-0", offset=offset, generation_id=1))
    buffered_when_done: list[int] = []

    async def step_in_flight() -> None:
        await asyncio.sleep(0.01)
        buffered_when_done.append(len(worker.incoming))

    worker.rebalance.track(asyncio.ensure_future(step_in_flight()))
    await worker.on_partitions_revoked(None, revoked={TP("events", 0)})
    assert buffered_when_done == [3] and len(worker.incoming) == 0
    assert ready(worker) == 0 and not worker.rebalance.quiet.is_set()
