"""The worker's processing of one micro-batch, free of Kafka so it can be tested alone.

For each message: validate (bad -> DLQ with reason), drop repeats of a recent
``event_id``, fold the event into the user's state, collect its item activity (sent
once per partition per batch, see :mod:`stream.processing.item_events`), and resolve earlier
intents on purchases. Then, once per batch, every user whose state
changed is scored on their candidate items in ONE model call, and the intent gate
decides what to publish. State is written back once per user per batch, so the
changelog gets one record per user per batch rather than one per event.

Delivery is at-least-once: the caller acknowledges the batch's offsets only after
:meth:`EventProcessor.process_batch` returns, and a redelivered event is recognised by
its ``event_id`` and skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import replace

from models.scorer import Scores
from stream.domain.events import InvalidEvent, dlq_record, encode_event, parse_message
from stream.domain.state import ItemStats, UserState, event_fingerprint
from stream.monitoring.comparison import ShadowComparison
from stream.monitoring.drift import DriftMonitor
from stream.monitoring.metrics import WorkerMetrics, observe_many
from stream.monitoring.outcomes import CHALLENGER, CHAMPION, OutcomeMonitor
from stream.monitoring.quality import QualityMonitor
from stream.processing.batch import (
    BatchResult,
    ProcessorConfig,
    RawMessage,
    ServingModel,
    Sinks,
    StagedBatch,
    Trigger,
)
from stream.processing.feature_log import log_features, sampler
from stream.processing.gate import IntentGate
from stream.processing.intents import Intent, encode_intent
from stream.processing.item_events import ItemActivity
from stream.processing.model_calls import ModelCalls
from stream.processing.privacy import Pseudonymizer
from stream.processing.role_gates import Gated, gate_scored, resolve_event, sweep
from stream.processing.source_log import SourceLogs
from stream.processing.volume import VolumeTarget

__all__ = [
    "RawMessage",
    "Sinks",
    "ServingModel",
    "ProcessorConfig",
    "EventProcessor",
    "BatchResult",
    "StagedBatch",
]

log = logging.getLogger(__name__)

_new_tuple = tuple.__new__

#: Events (and users) staged between two turns of the event loop: about 10 ms of work.
YIELD_EVERY = 200


class EventProcessor:
    """Runs batches of raw messages through the pure steps (see the module docstring).

    ``users``, ``items`` and ``gates`` are the worker's tables (plain dicts in tests and
    the bench), ``challenger_gates`` the challenger's gates (see
    :mod:`stream.processing.role_gates`); ``model`` is swapped whole on a hot swap; ``sinks``
    are where outputs go; ``volume``: the threshold set as intents a day
    (:mod:`stream.processing.volume`), or None for the model's own.
    """

    def __init__(
        self,
        users: MutableMapping[str, UserState],
        items: Mapping[str, ItemStats],
        gates: MutableMapping[str, dict],
        model: ServingModel,
        sinks: Sinks,
        metrics: WorkerMetrics,
        config: ProcessorConfig | None = None,
        sources: SourceLogs | None = None,
        challenger_gates: MutableMapping[str, dict] | None = None,
        volume: VolumeTarget | None = None,
    ) -> None:
        config = config or ProcessorConfig()
        self.users, self.items, self.gates = users, items, gates
        self.model = model
        self.sinks = sinks
        self.metrics = metrics
        self.config = config
        self.cooldown_ms = config.cooldown_ms
        self.max_candidates = config.max_candidates
        self.calls = ModelCalls(config.score_timeout_s)
        self.quality = QualityMonitor(config.quality)
        self.drift = DriftMonitor()
        self.outcomes = OutcomeMonitor(self.drift)
        self.pseudonymize = Pseudonymizer(config.pseudonymize_key)
        self.partitions = config.partitions
        self._partition_of: dict[str, int] = {}  # item id -> events-by-item partition
        self.max_intent_age_ms = config.max_intent_age_ms
        self.watermark = 0  # latest event time processed
        #: The events partitions' logs: the epoch a user's source offset counts in.
        self.sources = SourceLogs() if sources is None else sources
        self.sweep_interval_s = 30.0
        self._last_sweep = time.monotonic()
        self.challenger_gates = {} if challenger_gates is None else challenger_gates
        self.volume = volume
        self.comparison = ShadowComparison()
        self._sample = sampler(config.feature_log_rate)

    @property
    def threshold(self) -> float:
        """The served model's threshold (its policy's)."""
        return self.model.policy.threshold

    @property
    def horizon_ms(self) -> int:
        """The served model's label horizon (its policy's)."""
        return self.model.policy.horizon_ms

    def gate(self) -> IntentGate:
        return IntentGate(self.threshold, self.cooldown_ms, self.horizon_ms, self.model.scorer.model_version)

    def shadow_gate(self) -> IntentGate | None:
        """The challenger's gate (None when none is shadow scored)."""
        if (c := self.model.challenger) is None:
            return None
        return IntentGate(c.policy.threshold, self.cooldown_ms, c.policy.horizon_ms, c.version)

    async def _to_dlq(self, msg: RawMessage, reason: str, detail: str) -> None:
        self.metrics.dlq.labels(reason=reason).inc()
        await self.sinks.dlq(msg.key, dlq_record(msg.value, reason, detail, msg.key))

    async def process_batch(self, messages: Sequence[RawMessage]) -> BatchResult:
        """Stage and finish one batch (the worker pipelines the two, see :meth:`stage`)."""
        return await self.finish(await self.stage(messages))

    async def stage(self, messages: Sequence[RawMessage]) -> StagedBatch:
        """Fold a batch into state and build its users' pairs, without scoring them.

        The worker stages batch k+1 while batch k is being scored in the model process,
        then finishes them in order. Every ``YIELD_EVERY`` events and users this lets
        the event loop run (a model answer waiting to be read, the next call to send):
        each event's gate update, the only state a publishing batch also touches, is
        written back before that, so the two steps never see each other half-done.
        """
        result = BatchResult()
        self.metrics.batch_events.observe(len(messages))
        gate, shadow_gate = self.gate(), self.shadow_gate()
        if time.monotonic() - self._last_sweep >= self.sweep_interval_s:
            self.sweep_expired(gate, shadow_gate)
        dirty: dict[str, UserState] = {}
        triggers: dict[str, list[Trigger]] = {}
        item_activity = ItemActivity(self.partitions, self._partition_of)
        by_type: dict[str, int] = {}
        # Read once a batch, not once an event (the loop is the worker's hot path).
        now_ms = int(time.time() * 1000)
        users_get, gates, observe = self.users.get, self.gates, self.quality.observe
        pseudonymize = self.pseudonymize.event if self.pseudonymize.enabled else None
        watermark, processed = self.watermark, 0
        read, epochs = self.sources.read, self.sources.epochs
        latest: dict[int, RawMessage] = {}  # partition -> its last message in the batch
        for k, msg in enumerate(messages, 1):
            if k % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            offset, epoch = msg.offset, 0
            if offset >= 0:
                partition = msg.partition
                if offset <= read.get(partition, -1):  # back, with no rebalance: a new log
                    self.sources.restart(partition, f"offsets went back to {offset} with no rebalance")
                    self.metrics.source_log_restarts.inc()
                read[partition] = offset
                latest[partition] = msg
                epoch = epochs.get(partition, 0)
            try:
                event = parse_message(msg.value, msg.key, now_ms)
            except InvalidEvent as exc:
                await self._to_dlq(msg, exc.reason, exc.detail)
                result.dlq += 1
                continue
            if pseudonymize is not None:
                event = pseudonymize(event)  # before anything is stored or sent
            uid = event.user_id
            state = dirty.get(uid) or users_get(uid) or UserState()
            fingerprint = event_fingerprint(event.event_id)
            if state.seen(event, offset, fingerprint, epoch):
                self.metrics.duplicates.inc()
                result.duplicates += 1
                continue
            ingest_ms = msg.timestamp * 1000.0
            verdict = observe(event, ingest_ms, state.session_last() if state.n_events else None)
            if verdict.exclude:
                self.metrics.excluded.inc()
            state.add_unseen(event, offset, not verdict.exclude, fingerprint, epoch)
            processed += 1
            dirty[uid] = state
            trigger = _new_tuple(Trigger, (event, ingest_ms))  # Trigger(...), a third of the cost
            user_triggers = triggers.get(uid)
            if user_triggers is None:
                triggers[uid] = [trigger]
            else:
                user_triggers.append(trigger)
            etype, ts = event.type, event.ts
            by_type[etype] = by_type.get(etype, 0) + 1
            item_activity.add(event)
            if ts > watermark:
                watermark = ts
            if shadow_gate is not None:  # the challenger's own gates: never mixed with these
                shadow = self.challenger_gates
                for outcome, version in resolve_event(
                    shadow, shadow_gate, uid, shadow.get(uid), etype, event.item_id, ts
                ):
                    self._outcome(outcome, state.n_events, version, uid, CHALLENGER)
            gstate = gates.get(uid)
            if gstate is None and etype != "transaction":
                continue  # most users: no intent open, no purchase to resolve
            for outcome, version in resolve_event(gates, gate, uid, gstate, etype, event.item_id, ts):
                self._outcome(outcome, state.n_events, version, uid)
        self.watermark = watermark
        for partition, last in latest.items():
            self.sources.anchor(partition, last.offset, last.key, last.value)
        result.processed += processed
        for etype, n in by_type.items():  # counted per batch: labels() is costly per event
            self.metrics.events.labels(type=etype).inc(n)
        self._flush_monitors()
        for uid, state in dirty.items():
            self.users[uid] = state  # one changelog write per user per batch
        staged = StagedBatch(result, gate, triggers, self.model, shadow_gate=shadow_gate, event_ts=watermark)
        # History (every event of the user in this batch written to the topic longer ago
        # than the maximum intent age) publishes no intent: its users are not scored.
        max_age = self.max_intent_age_ms
        changed_users = list(dirty.items())
        if max_age > 0:
            fresh_after = now_ms - max_age
            changed_users = [(u, s) for u, s in changed_users if triggers[u][-1].ingest_ms >= fresh_after]
            if len(changed_users) < len(dirty):
                self.metrics.history_unscored.inc(len(dirty) - len(changed_users))
        if changed_users:
            for start in range(0, len(changed_users), YIELD_EVERY):
                if start:
                    await asyncio.sleep(0)
                staged.add_pairs(
                    changed_users[start : start + YIELD_EVERY], self.max_candidates, self.items, self._sample
                )
            staged.seal()
            self.metrics.batch_pairs.observe(staged.n_pairs)
            if staged.U is not None and staged.I is not None:
                staged.submitted_at = time.perf_counter()
                staged.scoring = self.calls.submit(staged.model.scorer, staged.U, staged.I, staged.sizes)
        self.metrics.users.set(len(self.users))
        if staged.samples and self.sinks.feature_log is not None:
            self.metrics.feature_log.inc(await log_features(staged, self.sinks.feature_log))
        for partition, value in item_activity.messages():  # one record per partition per batch
            await self.sinks.item_events(partition, value)
        return staged

    async def finish(self, staged: StagedBatch) -> BatchResult:
        """Score a staged batch and publish the intents its gate lets through."""
        return await self.publish(staged, await self.score(staged))

    async def score(self, staged: StagedBatch) -> Scores | None:
        """The model's answer for a staged batch's pairs: None when there are none, or
        when the model failed twice (:meth:`publish` then dead-letters the triggers).
        The call was submitted when the batch was staged, so the model works on it while
        the batches before it are published."""
        if not staged.n_pairs:
            return None
        assert staged.U is not None and staged.I is not None
        scorer = staged.model.scorer
        call, started = staged.scoring, staged.submitted_at
        for attempt in (1, 2):
            if call is None:
                started = time.perf_counter()
                call = self.calls.submit(scorer, staged.U, staged.I, staged.sizes)
            try:
                scores = await call
                self.metrics.scoring.observe(time.perf_counter() - started)
                return scores
            except Exception as exc:  # a failing model must not stop consumption
                self.metrics.scoring_failures.inc()
                log.warning("model call failed (attempt %d): %r", attempt, exc)
                call = None
        return None

    async def publish(self, staged: StagedBatch, scores: Scores | None) -> BatchResult:
        """Gate a scored batch and publish the intents that pass."""
        if staged.n_pairs:
            staged.result.intents = await self._publish(staged, scores)
        return staged.result

    def sweep_expired(self, gate: IntentGate | None = None, shadow_gate: IntentGate | None = None) -> int:
        """Close the intents of users who have not come back within the horizon, each a
        false positive (a returning user's are closed at their next event), in each
        role's gates. Runs between batches, so it never races a batch's gate updates;
        "now" is the latest event time processed less the late-arrival grace, so a
        lagging partition is not cut short. The live comparison is exported here too."""
        self._last_sweep = time.monotonic()
        now = self.watermark - self.quality.config.late_grace_ms
        closed = 0
        for role, gates, role_gate in (
            (CHAMPION, self.gates, gate or self.gate()),
            (CHALLENGER, self.challenger_gates, shadow_gate),
        ):
            if role_gate is not None:
                for uid, n_events, version in sweep(gates, role_gate, now, self.users):
                    self._outcome("fp", n_events, version, uid, role)
                    closed += 1
        self.outcomes.flush(self.metrics)
        compared = self.comparison.result() if self.model.challenger is not None else None
        for metric, bounds in compared.difference.items() if compared is not None else ():
            for bound, value in zip(("estimate", "lower", "upper"), bounds):
                self.metrics.challenger_difference.labels(metric=metric, bound=bound).set(value)
        return closed

    def _outcome(self, outcome: str, n_events: int, version: str, uid: str, role: str = CHAMPION) -> None:
        for detector in self.outcomes.update(outcome, n_events, version, role):
            self._drift_raised(detector)
        self.comparison.update(role, uid, outcome)

    def _drift_raised(self, detector: str) -> None:
        self.metrics.drift_raised(detector, self.drift.raised_at[detector])

    def _flush_monitors(self) -> None:
        """What the monitors counted since the last flush, to Prometheus (once a batch)."""
        self.metrics.count_quality(*self.quality.take_pending())
        self.outcomes.flush(self.metrics)

    async def _publish(self, staged: StagedBatch, scores: Scores | None) -> list[Intent]:
        triggers = staged.triggers
        if scores is None:
            for uid, _ in staged.owners:
                for trig in triggers[uid]:
                    key = trig.event.user_id.encode()
                    await self.sinks.dlq(
                        key,
                        dlq_record(
                            encode_event(trig.event), "scoring_failed", "model call failed twice", key
                        ),
                    )
                    self.metrics.dlq.labels(reason="scoring_failed").inc()
            return []
        for detector in self.drift.update_scores(scores.probability):
            self._drift_raised(detector)
        now_ms = time.time() * 1000
        champion = self._gate(staged, scores, CHAMPION, now_ms)
        published = champion.intents
        if champion.stale:
            self.metrics.suppressed.labels(reason="stale").inc(champion.stale)
        if champion.bots:
            self.metrics.suppressed.labels(reason="bot").inc(champion.bots)
        if scores.challenger is not None and staged.shadow_gate is not None and self.sinks.shadow_intents:
            shadow = self._gate(staged, scores.challenger, CHALLENGER, now_ms).intents
            for intent in shadow:
                await self.sinks.shadow_intents(intent.user_id.encode(), encode_intent(intent))
            self.metrics.shadow_intents.inc(len(shadow))
            self.metrics.shadow_scoring.observe(scores.challenger_s)
        for intent in published:
            await self.sinks.intents(intent.user_id.encode(), encode_intent(intent))
        await self.sinks.flush_intents()
        observe_many(
            self.metrics.latency.labels(basis="ingest"),
            [max(intent.latency_ms, 0) / 1000 for intent in published],
        )
        observe_many(
            self.metrics.latency.labels(basis="event_time"),
            [max(now_ms - intent.event_ts, 0) / 1000 for intent in published],
        )
        self.metrics.intents.inc(len(published))
        return published

    def _gate(self, staged: StagedBatch, scores: Scores, role: str, now_ms: float) -> Gated:
        """One role's decisions on a scored batch, at its threshold (set by the volume
        target when there is one)."""
        gate = staged.gate if role == CHAMPION else staged.shadow_gate
        assert gate is not None
        if self.volume is not None:
            if role == CHAMPION:
                assert staged.U is not None and staged.I is not None
                self.volume.remember(staged.U, staged.I, staged.sizes)
            threshold = self.volume.threshold(
                gate.version, scores.probability, staged.event_ts, gate.threshold, role
            )
            gate = replace(gate, threshold=threshold)
        self.metrics.threshold.labels(model_version=gate.version, role=role).set(gate.threshold)
        gates = self.gates if role == CHAMPION else self.challenger_gates
        gated = gate_scored(staged, scores, gates, gate, now_ms, self.max_intent_age_ms, self.quality.is_bot)
        if self.volume is not None:
            self.volume.published(role, len(gated.intents), gated.above)
        return gated
