"""The Faust application: topics, tables and the agents that run the processor.

Tables (each backed by a compacted changelog topic, restored on restart):

* ``users``  user_id -> :class:`~stream.domain.state.UserState` (partitioned like ``events``)
* ``items``  item_id -> :class:`~stream.domain.state.ItemStats`, a *global* table: every worker
  holds all items, so scoring a user on any partition can read any item's popularity.
  It is fed by an agent on ``events-by-item`` (each micro-batch's item activity, one
  record per partition; see :mod:`stream.processing.item_events`).
* ``gates``  user_id -> intent gate state (see :mod:`stream.processing.gate`).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import os
import socket
import time
from typing import Any, Callable

import faust
import orjson
from faust.serializers import codecs

from models.artifact import LoadedModel, load_artifact
from stream.config import GATES_TABLE, ITEMS_TABLE, USERS_TABLE, Settings
from stream.domain.state import ItemStats, UserState
from stream.io.kafka import read_end_offsets
from stream.monitoring.metrics import WorkerMetrics
from stream.processing.item_events import decode_item_activity, partition_for
from stream.processing.processor import (
    EventProcessor,
    ProcessorConfig,
    ServingModel,
    Sinks,
    StagedBatch,
)
from stream.runtime.faust_patches import apply_faust_patches
from stream.runtime.intake import RawTopic, subscribe_batches
from stream.runtime.lifecycle import Lifecycle
from stream.runtime.lifecycle import log as lifecycle_log
from stream.runtime.membership import MemberRecord
from stream.runtime.model_reloader import ModelReloader
from stream.runtime.publisher import PartitionBatches
from stream.runtime.rebalance import RebalanceBarrier
from stream.runtime.scoring_process import ScoringProcess, ScoringProcessError
from stream.runtime.serving import serving_model as serve
from stream.runtime.tables import BatchedTable, Deliveries, StrKeyed

__all__ = ["create_app", "faust_worker", "StrKeyed"]

log = logging.getLogger(__name__)


# aiokafka holds ONE batch per partition and makes a send wait while a full one is in
# flight: at Faust's 16 KB default a busy worker waited on broker round trips (p99 at
# 5,000 events/s of intents: 1.7 s -> 1.0 s with 256 KB).
PRODUCER_MAX_BATCH_BYTES = 256 * 1024


class _StateCodec(codecs.Codec):
    """orjson for the state dataclasses; what the changelog topics hold."""

    def __init__(self, cls: Any) -> None:
        super().__init__()
        self.cls = cls

    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj.to_dict())

    def _loads(self, s: bytes) -> Any:
        return self.cls.from_dict(orjson.loads(s))


class _JsonCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def _loads(self, s: bytes) -> Any:
        return orjson.loads(s)


apply_faust_patches()
# Faust's serializers for the tables, and what BatchedTable encodes its changelog with.
TABLE_CODECS = {"user_state": _StateCodec(UserState), "item_stats": _StateCodec(ItemStats),
                "orjson": _JsonCodec()}
for _name, _codec in TABLE_CODECS.items():
    codecs.register(_name, _codec)


async def broker_reachable(bootstrap: str, timeout: float = 0.5) -> bool:
    """True if any bootstrap server accepts a TCP connection."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        except (OSError, asyncio.TimeoutError, ValueError):
            continue
        writer.close()
        return True
    return False


def _broker_credentials(settings: Settings) -> Any:
    if settings.security_protocol == "PLAINTEXT":
        return None
    ctx = settings.ssl_context()
    if settings.sasl_mechanism.startswith("SCRAM"):
        return faust.SASLCredentials(
            username=settings.sasl_username, password=settings.sasl_password,
            mechanism=settings.sasl_mechanism, ssl_context=ctx)
    if settings.sasl_mechanism:
        return faust.SASLCredentials(
            username=settings.sasl_username, password=settings.sasl_password, ssl_context=ctx)
    return faust.SSLCredentials(ctx)


def create_app(settings: Settings) -> faust.App:
    """Build the worker app; start it with ``app.main()`` or ``faust.Worker(app)``."""
    session_ms = int(settings.session_timeout_s * 1000)
    identity = settings.worker_identity()
    life = Lifecycle(settings.app_id, identity, settings.session_timeout_s)
    worker_tag = f"{socket.gethostname()}-{os.getpid()}"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{b}" for b in settings.bootstrap.split(",")],
        broker_credentials=_broker_credentials(settings),
        store=settings.store,
        datadir=str(settings.data_dir / worker_tag),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        **settings.faust_consumer(),
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        table_standby_replicas=0,
        stream_wait_empty=False,
        producer_linger=0.001,
        producer_max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        # The check guards a persistent (RocksDB) store against a truncated changelog. With
        # the memory store the "persisted" offset is this process's own latest write, which
        # can run ahead of the broker's reported end offset for a moment during a
        # rebalance (seen with a global table when a peer was killed): not an error.
        recovery_consistency_check=not settings.store.startswith("memory"),
    )
    app.intent_fetch_max_wait_ms = settings.fetch_max_wait_ms  # type: ignore[attr-defined]
    app.intent_end_offsets = lambda tps: read_end_offsets(settings, tps)  # type: ignore[attr-defined]
    topics = settings.topics
    raw = dict(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    events_topic = RawTopic(app, topics=[topics.events], partitions=settings.partitions, **raw)
    incoming = subscribe_batches(app, events_topic, settings.batch_size, settings.batch_ms / 1000,
                                 backlog_batch=settings.backlog_batch_size,
                                 backlog_linger_s=settings.backlog_linger_ms / 1000)
    item_topic = app.topic(topics.item_events, partitions=settings.partitions, **raw)

    deliveries = Deliveries()

    batched: list[tuple[str, BatchedTable]] = []

    def table(factory: Any, name: str, value_serializer: str, value_cls: Any = None) -> StrKeyed:
        # Keys are the raw id bytes and the changelog partition comes from the default
        # (murmur2) partitioner: the same bytes and hash the producers use for the
        # source topics, so a user's changelog partition is its events partition.
        schema = faust.Schema(key_type=bytes, key_serializer="raw", value_serializer=value_serializer)
        # key_type=bytes matters: recovery decodes changelog keys by key_type (json
        # otherwise, which turns "266079" into an int), and values as plain JSON,
        # which StrKeyed turns back into state objects.
        t = factory(name, schema=schema, key_type=bytes, partitions=settings.partitions,
                    use_partitioner=True)
        if not settings.store.startswith("memory"):
            deliveries.track(t)  # Faust writes this one's changelog
            return StrKeyed(t, value_cls)
        view = BatchedTable(t, value_cls, TABLE_CODECS[value_serializer].dumps)
        batched.append((settings.changelog_topic(name), view))
        return view

    users = table(app.Table, USERS_TABLE, "user_state", UserState)
    items = table(app.GlobalTable, ITEMS_TABLE, "item_stats", ItemStats)
    gates = table(app.Table, GATES_TABLE, "orjson")

    def aiokafka_producer() -> Any:
        return app.producer._ensure_producer()  # noqa: SLF001

    # One writer each: the changelog records (every agent's flush, one at a time) and
    # the intents (published in batch order by the events agent).
    changelogs, intents = PartitionBatches(aiokafka_producer), PartitionBatches(aiokafka_producer)
    flushing = asyncio.Lock()

    async def flush_tables() -> None:
        """Send the changelog records of every table key written since the last flush.
        One flush at a time: a key's newer record must not overtake its older one."""
        n = settings.partitions  # changelogs have the tables' partitions
        async with flushing:
            for topic, view in batched:
                for key, value in view.take_dirty():
                    changelogs.add(topic, key, value, partition_for(key, n))
            for delivery in await changelogs.send():
                deliveries.add(delivery)

    metrics = WorkerMetrics()
    app.intent_metrics = metrics  # type: ignore[attr-defined]
    app.intent_lifecycle = life  # type: ignore[attr-defined]

    async def send(topic: str, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        # Straight to the producer: Faust's Topic.send costs about 60 us a message on
        # the event loop (6,400 vs 10,400 messages/s through a Faust agent that only
        # forwards). Keyed records go to murmur2(key), as Topic.send would send them.
        deliveries.add(await app.producer.send(topic, key, value, partition, None, None))

    async def add_intent(key: bytes | None, value: bytes) -> None:
        intents.add(topics.intents, key, value)

    async def send_intents() -> None:
        for delivery in await intents.send():
            deliveries.add(delivery)

    sinks = Sinks(
        dlq=lambda k, v: send(topics.dlq, k, v),
        item_events=lambda part, v: send(topics.item_events, None, v, part),
        intents=add_intent,
        flush_intents=send_intents,
    )
    holder: dict[str, Any] = {}
    building = asyncio.Lock()
    score_timeout_s = 10.0

    def serving_model(loaded: LoadedModel) -> ServingModel:
        return serve(loaded, settings, score_timeout_s)

    def build() -> tuple[LoadedModel, ServingModel, float]:
        began = time.monotonic()
        loaded = load_artifact(settings.model_dir)
        return loaded, serving_model(loaded), time.monotonic() - began

    loading: dict[str, concurrent.futures.Future] = {}

    def start_loading() -> None:
        """Load the model (seconds: its child process imports torch and loads the
        artifact) in a thread from now on, beside Faust's start and the group join.
        Faust starts the app's tasks only once the first rebalance has recovered the
        tables, so a load begun there was paid after the join (3 s of a 15 s restart)."""
        if "model" not in loading:
            pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="intent-model-load")
            loading["model"] = pool.submit(build)
            pool.shutdown(wait=False)

    app.intent_start_loading = start_loading  # type: ignore[attr-defined]

    async def processor() -> EventProcessor:
        async with building:  # the agent and the start-up task both ask; build once
            if "p" not in holder:
                start_loading()
                loaded, model, took_s = await asyncio.wrap_future(loading["model"])
                life.model_loaded(loaded.scorer.model_version, took_s)
                metrics.model.info({"version": loaded.scorer.model_version, "path": str(loaded.path)})
                holder["p"] = EventProcessor(users, items, gates, model, sinks, metrics,
                                             ProcessorConfig.from_settings(settings, score_timeout_s))
        return holder["p"]

    async def acknowledge(batch: list[Any], previous: asyncio.Future | None) -> None:
        await flush_tables()
        await deliveries.wait()  # the batch's table writes and outputs are durable ...
        if previous is not None:
            await previous  # ... and the batches before it acknowledged ...
        incoming.acknowledge(batch, app.consumer)  # ... before its offsets may be committed

    rebalance = RebalanceBarrier(timeout_s=session_ms / 2000)

    @app.task
    async def score_events() -> None:
        """Batches overlap in three steps: while batch k+1 is staged (parse, state,
        features) on the event loop, batch k is in the model process, and batch k-1's
        intents are published and its records awaited. A batch's model call is queued
        when it is staged, and the model process takes it as soon as it answers for the
        one before; publishing, like acknowledging, keeps batch order. A batch is
        published before the batch two after it is staged, so the gates see the steps
        in a fixed order. A batch is whatever arrived while the previous one was staged
        (see stream.runtime.intake): it grows with the load."""
        proc = await processor()
        finishing: asyncio.Future | None = None  # the latest batch's publication
        settled: asyncio.Future | None = None  # the one before it
        acking: asyncio.Future | None = None

        async def finish(staged: StagedBatch, batch: list[Any],
                         previous: asyncio.Future | None) -> None:
            nonlocal acking
            answer = await proc.score(staged)
            if previous is not None:
                await previous
            await proc.publish(staged, answer)
            acking = rebalance.track(asyncio.ensure_future(acknowledge(batch, acking)))

        try:
            while True:
                batch = await incoming.take()
                if settled is not None:
                    await settled
                if not rebalance.quiet.is_set():
                    # Taken before a rebalance: Faust seeks its partitions back to the
                    # committed offsets, so what is still ours is read again.
                    await rebalance.quiet.wait()
                    batch = [m for m in batch if m.generation_id == app.consumer_generation_id]
                    if not batch:
                        continue
                # No await between the check above and taking the lock (a free lock is
                # taken without yielding): a rebalance that begins now waits for this stage.
                async with rebalance.staging:
                    staged = await proc.stage(batch)  # Faust messages read as RawMessage
                    await flush_tables()
                if acking is not None and acking.done():
                    acking.result()  # a record that could not be delivered stops the worker
                settled, finishing = finishing, rebalance.track(asyncio.ensure_future(
                    finish(staged, batch, finishing)))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            # Nothing after this batch may be acknowledged (its offsets would be
            # committed past the failed one): stop, and let a restart read from the
            # last commit.
            log.critical("events agent stopped: %r", exc)
            await app.crash(exc)
            raise
        finally:
            for step in (finishing, acking):
                if step is not None:
                    await asyncio.gather(step, return_exceptions=True)

    @app.agent(item_topic)
    async def count_items(stream: Any) -> None:
        async for batch in stream.take(settings.batch_size, within=settings.batch_ms / 1000):
            touched: dict[str, ItemStats] = {}
            for value in batch:
                try:
                    activity = decode_item_activity(value)
                except ValueError:  # written by our own workers; never fatal
                    log.warning("unreadable events-by-item record skipped")
                    continue
                for item_id, rows in activity.items():
                    stats = touched.get(item_id) or items.get(item_id) or ItemStats()
                    for row in rows:
                        stats.add(*row)
                    touched[item_id] = stats
            for item_id, stats in touched.items():
                items[item_id] = stats
            await flush_tables()
            await deliveries.wait()

    def owned_events_partitions() -> list[Any]:
        return [tp for tp in app.consumer.assignment() if tp.topic == topics.events]

    @app.timer(interval=2.0)
    async def report_lag() -> None:
        """Lag per partition this worker owns: a partition's series goes when it is
        revoked (see _not_ready) and is set again by its new owner, so a sum over the
        fleet counts each partition once."""
        metrics.users.set(len(users))
        consumer = app.consumer
        assigned = owned_events_partitions()
        ends = {}
        if assigned:
            try:
                ends = await consumer.highwaters(*assigned)
            except Exception:  # lag is best effort; a rebalance may be in progress
                return
        owned = set(owned_events_partitions())  # a rebalance may have run meanwhile
        for tp in assigned:
            if tp in owned:
                committed = consumer._committed_offset.get(tp)  # noqa: SLF001
                pos = (committed + 1) if committed is not None else 0
                metrics.partition_lag.set(tp.partition, max(ends.get(tp, 0) - pos, 0))
        metrics.partition_lag.own(tp.partition for tp in owned)

    @app.task
    async def load_model() -> None:
        await processor()  # load the model at start, not on the first event
        # The producer learns a topic's partitions on its first send to it (a metadata
        # round trip that the first events' latency would pay): learn them now.
        producer = aiokafka_producer()
        for topic in (topics.intents, topics.dlq, topics.item_events,
                      *(topic for topic, _ in batched)):
            try:
                await producer.partitions_for(topic)
            except Exception:  # only a warm-up; the first send retries it
                log.debug("no metadata yet for %s", topic)
        # Everything built so far (modules, Faust, the catalogue) lives as long as the
        # worker: out of the collector's sight, so a full collection walks only state
        # (full collections took 100-220 ms, the worker's latency spikes).
        gc.collect()
        gc.freeze()
        log.debug("warm %.1f s after start", time.monotonic() - life.started)
        health["warm"] = True
        _update_ready()

    @app.timer(interval=settings.model_poll_s)
    async def reload_model() -> None:
        proc = await processor()
        reloader = holder.setdefault("reloader", ModelReloader(
            settings.model_dir, proc.model.scorer.model_version))
        loop = asyncio.get_running_loop()
        loaded, refused = await loop.run_in_executor(None, reloader.try_load)
        model = None
        if loaded is not None:
            try:
                model = await loop.run_in_executor(None, serving_model, loaded)
            except ScoringProcessError as exc:  # refused like a corrupt artifact, once
                refused = str(exc)
                log.error("refused model %s: %s", loaded.scorer.model_version, exc)
                reloader.refused.add(loaded.scorer.model_version)
                reloader.current_version = proc.model.scorer.model_version
        if refused:
            metrics.model_reload_failures.inc()
        if model is not None:
            old = proc.model.scorer
            # one assignment: a batch in flight keeps the model it started with
            proc.model = model
            metrics.model.info({"version": loaded.scorer.model_version, "path": str(loaded.path)})
            metrics.model_reloads.inc()
            log.warning("now serving model %s (threshold %.4g, label horizon %d min)",
                        loaded.scorer.model_version, proc.threshold, proc.horizon_ms // 60_000)
            if isinstance(old, ScoringProcess):  # after the batch in flight (and its retry)
                loop.call_later(2 * score_timeout_s, lambda: loop.run_in_executor(None, old.close))

    # Ready: the broker answers, partitions are assigned (tables recovered), and the
    # model is loaded and the worker warmed up (a full collection then runs once, not
    # under the first events).
    health = {"broker": True, "assigned": False, "warm": False}
    not_ready_because = {"broker": "the broker does not answer",
                         "assigned": "joining the group or recovering tables",
                         "warm": "loading the model"}

    def _update_ready() -> None:
        ready = all(health.values())
        metrics.ready.set(1 if ready else 0)
        life.readiness(ready, "; ".join(why for k, why in not_ready_because.items() if not health[k]))

    async def report_recovery(recovery: Any) -> None:
        """Recovery progress in the log until the tables are recovered (Faust starts app
        timers only after the first recovery, so this is a task of its own)."""
        while life.recovered_at is None and life.assigned_at is not None:
            if recovery.in_recovery:
                life.recovering(recovery.active_remaining_total())
            await asyncio.sleep(0.5)

    def watch_recovery() -> None:
        recovery = app.tables.recovery
        if not getattr(recovery, "intent_watched", False):
            need_recovery = recovery.need_recovery

            def need_recovery_reported() -> bool:
                # called once the changelogs' ends and the tables' offsets are known,
                # before reading: the records to restore, exactly
                life.recovering(recovery.active_remaining_total())
                return need_recovery()

            recovery.need_recovery = need_recovery_reported
            recovery.intent_watched = True
        if holder.get("recovery_report") is None or holder["recovery_report"].done():
            holder["recovery_report"] = asyncio.ensure_future(report_recovery(recovery))

    @app.timer(interval=1.0)
    async def probe_broker() -> None:
        # A plain TCP probe of the bootstrap servers: cheap, and independent of the
        # Kafka clients' own retry loops, which hide an outage for a long time.
        health["broker"] = await broker_reachable(settings.bootstrap)
        _update_ready()

    @app.on_partitions_revoked.connect
    async def _not_ready(sender: Any, revoked: Any = None, **kwargs: Any) -> None:
        health["assigned"] = False
        life.joining(revoked or ())
        _update_ready()
        # Not ours any more (the new owner exports them): no frozen series left behind.
        metrics.partition_lag.forget(tp.partition for tp in revoked or () if tp.topic == topics.events)
        await rebalance.begin()

    @app.on_partitions_assigned.connect
    async def _assigned(sender: Any, assigned: Any = None, **kwargs: Any) -> None:
        by_topic: dict[str, list[int]] = {topics.events: []}
        for tp in assigned or ():
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        life.assigned(by_topic)
        watch_recovery()
        if identity is not None:  # so that a restart can remove this member (stream.runtime.membership)
            try:
                member_id = app.consumer._thread._ensure_consumer()._coordinator.member_id  # noqa: SLF001
                MemberRecord(settings.data_dir, identity).save(settings.app_id, member_id)
            except Exception as exc:  # best effort: a restart then waits for the session
                log.warning("could not record this worker's group member id: %r", exc)

    @app.on_rebalance_complete.connect
    async def _ready(sender: Any, **kwargs: Any) -> None:
        # tables are recovered once the rebalance completes
        life.recovered()
        rebalance.end()
        health["assigned"] = True
        _update_ready()
        metrics.users.set(len(users))

    return app


def run_reference_agent(create: Callable[[Settings], tuple[faust.App, WorkerMetrics]]) -> None:
    """Run one of the bench's reference agents (naive, pass-through) from the ``INTENT_*``
    environment, as the worker runs: the same Faust worker and a /metrics endpoint."""
    from stream.monitoring.metrics import MetricsServer

    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app, metrics = create(settings)
    MetricsServer(metrics, settings.metrics_host, settings.metrics_port).start()
    faust_worker(app, settings).execute_from_commandline()


class _Worker(faust.Worker):
    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        # The worker's way to serving (joining, assigned, recovering, ready) is logged at
        # the default level too (WARNING): an operator must tell joining from recovering
        # from stuck. Only that logger gets louder; the others keep the root's level.
        if level <= logging.WARNING:
            lifecycle_log.setLevel(logging.INFO)
            for handler in logger.handlers:
                if handler.level > logging.INFO:
                    handler.setLevel(logging.INFO)
        life = getattr(self.app, "intent_lifecycle", None)
        if life is not None:
            life.starting()


def faust_worker(app: faust.App, settings: Settings) -> faust.Worker:
    """A quiet Faust worker for ``app``, tuned for a small box (the worker and the bench's
    naive agent both run this way, so they are compared on equal terms)."""
    import torch

    # One intra-op thread: the event loop needs the other core (and the broker shares
    # the box); two torch threads on two cores only fight the loop for the CPU.
    torch.set_num_threads(settings.model_threads)
    # Young collections every 700 net allocations ran several times per batch; full
    # ones follow from these and walk every table object (see load_model).
    gc.set_threshold(50_000, 20, 10)
    worker = _Worker(app, loglevel=settings.log_level, quiet=True)
    # Faust's terminal spinner lowers the root logger to DEBUG so that every log call
    # spins it: each Kafka send then builds a debug LogRecord (about 10% of the loop).
    worker.spinner = None
    return worker
