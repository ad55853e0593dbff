"""The worker: what runs in the Faust app that :mod:`stream.runtime.app` builds. A
:class:`Worker` keeps the running worker's state as typed attributes of one object; its
methods are what Faust runs, connected once by :meth:`Worker.register`:

* :meth:`Worker.score_events` (a task): the events loop; batches are staged, scored,
  published and acknowledged, three batches overlapping.
* :meth:`Worker.count_items` (an agent on ``events-by-item``): the global ``items`` table.
* :meth:`Worker.load_model` (a task) and :meth:`Worker.reload_model` (a timer): the first
  model (loading from :meth:`Worker.start_loading` on), then each new artifact version
  (or registry pointer: see :class:`~stream.runtime.model_loading.ModelLoading`).
* :meth:`Worker.probe_broker`, :meth:`Worker.report_lag` (timers) and the rebalance
  signal handlers: readiness, lag and the lifecycle log.
* :meth:`Worker.expire_state` (a timer): the retention (see :class:`StateUpkeep`, which
  also checks the events partitions' source logs once the tables are recovered).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

import faust

from stream.config import Settings
from stream.io.kafka import broker_reachable
from stream.monitoring.metrics import WorkerMetrics
from stream.processing.item_events import fold_item_activity
from stream.processing.processor import EventProcessor, ProcessorConfig, Sinks, StagedBatch
from stream.processing.source_log import SourceLogs
from stream.runtime.intake import MessageBatches
from stream.runtime.lag import report_owned_lag
from stream.runtime.lifecycle import Lifecycle, RecoveryProgress
from stream.runtime.membership import MemberRecord
from stream.runtime.model_loading import ModelLoading
from stream.runtime.publisher import PartitionBatches
from stream.runtime.rebalance import RebalanceBarrier
from stream.runtime.state_upkeep import StateUpkeep
from stream.runtime.tables import ChangelogWriter, Deliveries, WorkerTables

__all__ = ["Worker"]

log = logging.getLogger(__name__)


class Worker:
    """The purchase-intent worker inside a Faust app.

    Parameters: ``settings``; ``app``, the Faust app its tasks, agent, timers and signal
    handlers are registered on (:meth:`register`); ``lifecycle``; ``incoming``, the
    events topic's :class:`~stream.runtime.intake.MessageBatches`; ``item_topic``, the
    ``events-by-item`` topic; ``tables``; ``deliveries``, which every record the worker
    sends joins (see :class:`~stream.runtime.tables.Deliveries`).

    State (nothing else is kept, and nothing is hung on the Faust app), besides the
    parameters and what is derived from the settings (``identity``, ``topics``):

    * ``metrics`` (:class:`~stream.monitoring.metrics.WorkerMetrics`): what ``/metrics``
      exports; the command serves it.
    * ``lifecycle`` (:class:`~stream.runtime.lifecycle.Lifecycle`): the log of the way to
      serving; the command sets ``lifecycle.evicted`` before the worker starts.
    * ``rebalance`` (:class:`~stream.runtime.rebalance.RebalanceBarrier`): keeps batches
      out of a rebalance; every batch step in flight is tracked there.
    * ``health``: readiness, one flag per condition of :attr:`NOT_READY_BECAUSE`.
    * ``sinks``: where the processor's outputs go (DLQ, item activity, intents).
    * ``_processor``: the :class:`~stream.processing.processor.EventProcessor`, built once
      the model is loaded (``None`` before); a reload swaps its ``model``, never it.
    * ``models`` (:class:`~stream.runtime.model_loading.ModelLoading`): the first model,
      loaded in a thread, and each new version of the artifact; ``_building`` makes the
      processor be built once.
    * ``_changelogs`` (:class:`~stream.runtime.tables.ChangelogWriter`): the tables'
      changelog records, a flush at a time; ``_intents``
      (:class:`~stream.runtime.publisher.PartitionBatches`): the intents.
    * ``sources`` (:class:`~stream.processing.source_log.SourceLogs`) and ``upkeep``
      (:class:`~stream.runtime.state_upkeep.StateUpkeep`): the events partitions' logs,
      the retention.
    * ``_acking``: the latest batch's acknowledgement (each waits for the one before);
      ``recovery`` (:class:`~stream.runtime.lifecycle.RecoveryProgress`): its log lines.
    """

    #: The longest a batch's model call may take (the scoring process gets 90% of it, see
    #: stream.runtime.serving); a replaced model's process is closed after twice this.
    SCORE_TIMEOUT_S = 10.0
    #: The warm-up's wait for one topic's metadata (events wait for the warm-up).
    WARM_METADATA_S = 5.0

    #: Ready: the broker answers, partitions are assigned (tables recovered), and the
    #: model is loaded and the worker warmed up (a full collection then runs once, not
    #: under the first events). Why the worker is not ready, by the condition missing.
    NOT_READY_BECAUSE = {
        "broker": "the broker does not answer",
        "assigned": "joining the group or recovering tables",
        "warm": "loading the model",
    }

    def __init__(
        self,
        settings: Settings,
        app: faust.App,
        lifecycle: Lifecycle,
        incoming: MessageBatches,
        item_topic: Any,
        tables: WorkerTables,
        deliveries: Deliveries,
    ) -> None:
        self.settings = settings
        self.app = app
        self.lifecycle = lifecycle
        self.identity = settings.worker_identity()
        self.topics = settings.topics
        self.incoming = incoming
        self.item_topic = item_topic
        self.tables = tables
        self.deliveries = deliveries
        self.metrics = WorkerMetrics()
        # One writer each: the changelog records (every agent's flush, one at a time) and
        # the intents (published in batch order by the events agent).
        self._changelogs = ChangelogWriter(tables, self._aiokafka_producer, deliveries)
        self._intents = PartitionBatches(self._aiokafka_producer)
        topics = self.topics
        self.sinks = Sinks(
            dlq=lambda k, v: self._send(topics.dlq, k, v),
            item_events=lambda part, v: self._send(topics.item_events, None, v, part),
            intents=self._add_intent,
            flush_intents=self._send_intents,
            shadow_intents=self._add_shadow_intent,
            feature_log=lambda k, v: self._send(topics.feature_log, k, v),
        )
        self._processor: EventProcessor | None = None
        self._building = asyncio.Lock()
        # the volume target's share of the fleet: the events partitions this worker owns
        self.models = ModelLoading(settings, self.metrics, self.SCORE_TIMEOUT_S, self._fleet_share)
        self._acking: asyncio.Future[None] | None = None
        session_ms = int(settings.session_timeout_s * 1000)
        self.rebalance = RebalanceBarrier(timeout_s=session_ms / 2000)
        self.health: dict[str, bool] = {"broker": True, "assigned": False, "warm": False}
        self._warm = asyncio.Event()  # set by load_model once warm
        self.recovery = RecoveryProgress(lifecycle)
        self.sources = SourceLogs()
        self.upkeep = StateUpkeep(
            settings, tables, self.metrics, self.rebalance, self.sources, self.flush_tables
        )

    def register(self) -> None:
        """Connect the worker's tasks, agent, timers and signal handlers to its app (once)."""
        app, settings = self.app, self.settings
        app.task(self.score_events)
        app.agent(self.item_topic)(self.count_items)
        app.timer(interval=2.0)(self.report_lag)
        app.task(self.load_model)
        app.timer(interval=settings.model_poll_s)(self.reload_model)
        app.timer(interval=1.0)(self.probe_broker)
        if settings.state_ttl_days > 0 and settings.state_sweep_s > 0:
            app.timer(interval=settings.state_sweep_s)(self.expire_state)
        app.on_partitions_revoked.connect(self.on_partitions_revoked)
        app.on_partitions_assigned.connect(self.on_partitions_assigned)
        app.on_rebalance_complete.connect(self.on_rebalance_complete)

    def _fleet_share(self) -> float:
        """This worker's share of the fleet's traffic: the events partitions it owns."""
        return len(self.upkeep.events_partitions) / self.settings.partitions

    # -- output ---------------------------------------------------------------------
    def _aiokafka_producer(self) -> Any:
        return self.app.producer._ensure_producer()  # noqa: SLF001

    async def flush_tables(self) -> None:
        """Send the changelog records of every table key written since the last flush."""
        await self._changelogs.flush()

    async def _send(self, topic: str, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        # Straight to the producer: Faust's Topic.send costs about 60 us a message on
        # the event loop (6,400 vs 10,400 messages/s through a Faust agent that only
        # forwards). Keyed records go to murmur2(key), as Topic.send would send them.
        self.deliveries.add(await self.app.producer.send(topic, key, value, partition, None, None))

    async def _add_intent(self, key: bytes | None, value: bytes) -> None:
        self._intents.add(self.topics.intents, key, value)

    async def _add_shadow_intent(self, key: bytes | None, value: bytes) -> None:
        self._intents.add(self.topics.shadow_intents, key, value)

    async def _send_intents(self) -> None:
        for delivery in await self._intents.send():
            self.deliveries.add(delivery)

    # -- the model ------------------------------------------------------------------
    def start_loading(self) -> None:
        """Load the model in a thread from now on (see :class:`ModelLoading`)."""
        self.models.start()

    async def processor(self) -> EventProcessor:
        """The event processor, built once the model is loaded (loading it if need be)."""
        async with self._building:  # the agent and the start-up task both ask; build once
            if self._processor is None:
                loaded, model, took_s = await self.models.first()
                self.lifecycle.model_loaded(loaded.scorer.model_version, took_s)
                tables = self.tables
                self._processor = EventProcessor(
                    tables.users,
                    tables.items,
                    tables.gates,
                    model,
                    self.sinks,
                    self.metrics,
                    ProcessorConfig.from_settings(self.settings, self.SCORE_TIMEOUT_S),
                    self.sources,
                    tables.challenger_gates,
                    self.models.volume,
                )
        return self._processor

    async def load_model(self) -> None:
        """Task: load the model at start, not on the first event, then warm up."""
        await self.processor()
        # The producer learns a topic's partitions on its first send to it (a metadata
        # round trip that the first events' latency would pay): learn them now.
        producer, topics = self._aiokafka_producer(), self.topics
        for topic in (topics.intents, topics.dlq, topics.item_events, *(t for t, _ in self.tables.batched)):
            try:  # bounded: events wait for the warm-up (see score_events)
                await asyncio.wait_for(producer.partitions_for(topic), self.WARM_METADATA_S)
            except Exception:  # only a warm-up; the first send retries it
                log.debug("no metadata yet for %s", topic)
        # Everything built so far (modules, Faust, the catalogue) lives as long as the
        # worker: out of the collector's sight, so a full collection walks only state
        # (full collections took 100-220 ms, the worker's latency spikes).
        gc.collect()
        gc.freeze()
        log.debug("warm %.1f s after start", time.monotonic() - self.lifecycle.started)
        self.health["warm"] = True
        self._warm.set()
        self._update_ready()

    async def reload_model(self) -> None:
        """Timer: serve the model directory's (or registry's) new version, if any."""
        await self.models.reload(await self.processor())

    # -- the events -----------------------------------------------------------------
    async def _acknowledge(self, batch: list[Any], previous: asyncio.Future[None] | None) -> None:
        await self.flush_tables()
        await self.deliveries.wait()  # the batch's table writes and outputs are durable ...
        if previous is not None:
            await previous  # ... and the batches before it acknowledged ...
        consumer = self.app.consumer
        self.incoming.acknowledge(batch, consumer)  # ... before its offsets may be committed

    async def _finish(
        self,
        proc: EventProcessor,
        staged: StagedBatch,
        batch: list[Any],
        previous: asyncio.Future[None] | None,
    ) -> None:
        """Score a staged batch, publish it after the batch before it, then acknowledge it."""
        answer = await proc.score(staged)
        if previous is not None:
            await previous
        await proc.publish(staged, answer)
        self._acking = self.rebalance.track(asyncio.ensure_future(self._acknowledge(batch, self._acking)))

    async def score_events(self) -> None:
        """Batches overlap in three steps: while batch k+1 is staged (parse, state,
        features) on the event loop, batch k is in the model process, and batch k-1's
        intents are published and its records awaited. A batch's model call is queued
        when it is staged, and the model process takes it as soon as it answers for the
        one before; publishing, like acknowledging, keeps batch order. A batch is
        published before the batch two after it is staged, so the gates see the steps
        in a fixed order. A batch is whatever arrived while the previous one was staged
        (see stream.runtime.intake): it grows with the load."""
        proc = await self.processor()
        # Events wait for the warm-up, so its full collection (0.2 s) never lands mid-backlog.
        await self._warm.wait()
        rebalance, incoming, app = self.rebalance, self.incoming, self.app
        finishing: asyncio.Future[None] | None = None  # the latest batch's publication
        settled: asyncio.Future[None] | None = None  # the one before it
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
                    self.upkeep.save_sources()
                    await self.flush_tables()
                acking = self._acking
                if acking is not None and acking.done():
                    acking.result()  # a record that could not be delivered stops the worker
                settled, finishing = (
                    finishing,
                    rebalance.track(asyncio.ensure_future(self._finish(proc, staged, batch, finishing))),
                )
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
            for step in (finishing, self._acking):
                if step is not None:
                    await asyncio.gather(step, return_exceptions=True)

    async def count_items(self, stream: Any) -> None:
        """Agent on ``events-by-item`` (a batch's item activity on one partition a record, see
        stream.processing.item_events), into the global items table, ``INTENT_ITEM_WINDOW_MS``
        at a time: a popular item is in every batch, and a write a window (not a batch) keeps
        the items changelog, and its restore, from growing with the event rate."""
        items, settings = self.tables.items, self.settings
        async for batch in stream.take(settings.batch_size, within=settings.item_window_ms / 1000):
            for item_id, stats in fold_item_activity(batch, items).items():
                items[item_id] = stats
            await self.flush_tables()
            await self.deliveries.wait()

    # -- readiness, lag and rebalances ----------------------------------------------
    async def expire_state(self) -> None:
        """Timer: remove the users and items not seen within the retention (event time)."""
        if self._processor is not None and self.health["assigned"]:
            await self.upkeep.sweep(self._processor.watermark)

    async def report_lag(self) -> None:
        """Timer: the state held (see StateUpkeep.report), the lag of each events partition."""
        self.upkeep.report()
        await report_owned_lag(self.app.consumer, self.topics.events, self.metrics)

    def _update_ready(self) -> None:
        health = self.health
        ready = all(health.values())
        self.metrics.ready.set(1 if ready else 0)
        self.lifecycle.readiness(
            ready, "; ".join(why for k, why in self.NOT_READY_BECAUSE.items() if not health[k])
        )

    async def probe_broker(self) -> None:
        # A plain TCP probe of the bootstrap servers: cheap, and independent of the
        # Kafka clients' own retry loops, which hide an outage for a long time.
        self.health["broker"] = await broker_reachable(self.settings.bootstrap)
        self._update_ready()

    async def on_partitions_revoked(self, sender: Any, revoked: Any = None, **kwargs: Any) -> None:
        self.health["assigned"] = False
        self.lifecycle.joining(revoked or ())
        self._update_ready()
        # Not ours any more (the new owner exports them): no frozen series left behind.
        self.metrics.partition_lag.forget(
            tp.partition for tp in revoked or () if tp.topic == self.topics.events
        )
        await self.rebalance.begin()
        # Only then is what is buffered dropped (its new owner reads it again from the
        # committed offsets). This was the intake's own handler, run after this one as
        # the signal's set of handlers happened to order them: one handler fixes it.
        self.incoming.clear()
        self.upkeep.revoked()

    async def on_partitions_assigned(self, sender: Any, assigned: Any = None, **kwargs: Any) -> None:
        by_topic: dict[str, list[int]] = {self.topics.events: []}
        for tp in assigned or ():
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        self.lifecycle.assigned(by_topic)
        self.upkeep.assigned(assigned or ())
        self.recovery.watch(self.app.tables.recovery)
        settings = self.settings
        # The member id, so that a restart can remove this member (stream.runtime.membership).
        if self.identity is not None:
            try:
                consumer = self.app.consumer._thread._ensure_consumer()  # noqa: SLF001
                member_id = consumer._coordinator.member_id  # noqa: SLF001
                MemberRecord(settings.data_dir, self.identity).save(settings.app_id, member_id)
            except Exception as exc:  # best effort: a restart then waits for the session
                log.warning("could not record this worker's group member id: %r", exc)

    async def on_rebalance_complete(self, sender: Any, **kwargs: Any) -> None:
        # tables are recovered once the rebalance completes
        self.metrics.restore_seconds.set(self.lifecycle.recovered())
        self.metrics.restored_records.set(self.lifecycle.to_restore or 0)
        await self.upkeep.check_sources()  # before any event of a recreated topic
        self.rebalance.end()
        self.health["assigned"] = True
        self._update_ready()
        self.metrics.users.set(len(self.tables.users))
