"""``intent coupons``: the marketing consumer that turns purchase intents into coupons.

It reads ``purchase-intent``, applies a :class:`CouponPolicy` and writes one decision per
intent to the ``coupons`` topic (key = user id) and to a CSV file:

* a probability band: intents below ``min_probability`` are not worth a coupon, and
  those above ``max_probability`` would buy anyway;
* one coupon per user per ``cooldown_ms`` (event time of the intent);
* at most ``daily_budget`` coupons per UTC day of processing (the day the decision is
  made): a backlog of intents spanning N event days, read at once, spends one day's
  budget, not N;
* the budget is paced over the day (``pacing="quantile"``, the default): an intent is
  granted only when its probability reaches a threshold that adapts to the day's traffic,
  so the budget goes to the day's best intents (:mod:`stream.commands.coupon_pacing`);
  ``pacing="fcfs"`` grants in arrival order until the budget is spent.

Intents are read by :func:`stream.processing.intents.decode_intent`, which ignores fields it does
not know, so a producer that adds a field to the contract is still served. Unreadable
intents are counted by reason and skipped. With ``INTENT_COUPON_METRICS_PORT`` (or
``--metrics-port``) the consumer serves its own ``/metrics`` and ``/healthz``
(:class:`stream.monitoring.coupon_metrics.CouponMetrics`): decisions by outcome, unreadable intents,
redeliveries, lag per partition, today's budget left.

Idempotent across restarts: the ``coupons`` topic is the ledger. At start the book
(decided intents, each user's last coupon, coupons per day) is rebuilt from it and the
CSV is rewritten from it; then intents are consumed from the group's committed
offsets, and offsets are committed only after the batch's decisions are acknowledged.
An intent redelivered after a crash finds its decision in the book and is skipped, so
no user gets a second coupon for it.

>>> from stream.processing.intents import Intent
>>> book = CouponBook(CouponPolicy(min_probability=0.5, cooldown_ms=60_000, daily_budget=2, pacing="fcfs"))
>>> def intent(user, p, ts, trig):
...     return Intent(user, "i1", p, 0.3, "v1", {"resnet": p, "forest": p}, trig, ts, ts, 1.0)
>>> [book.decide(intent(*args)).reason for args in [
...     ("u1", 0.9, 0, "e1"), ("u1", 0.9, 1_000, "e2"), ("u2", 0.4, 0, "e3"),
...     ("u3", 0.8, 0, "e4"), ("u4", 0.7, 0, "e5")]]
['granted', 'cooldown', 'below_band', 'granted', 'budget']
>>> book.decide(intent("u1", 0.9, 0, "e1")) is None  # a redelivery: already decided
True

A backlog spanning three event days, decided on one day, spends one day's budget:

>>> book, today = CouponBook(CouponPolicy(daily_budget=2, pacing="fcfs")), 20_000 * DAY_MS
>>> [book.decide(intent(f"u{d}", 0.9, d * DAY_MS, f"e{d}"), today).reason for d in range(3)]
['granted', 'granted', 'budget']
>>> book.decide(intent("u9", 0.9, 0, "e9"), today + DAY_MS).reason, book.budget_left(today + DAY_MS)
('granted', 1)

Paced (the default), the first intents only teach the pacer the day's probabilities:

>>> book = CouponBook(CouponPolicy(daily_budget=2))
>>> book.decide(intent("u1", 0.9, 0, "e1"), today).reason
'paced'
"""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import ConsumerRebalanceListener

from stream.commands.coupon_pacing import Pacer
from stream.config import Settings
from stream.monitoring.coupon_metrics import CouponMetrics
from stream.monitoring.metrics_server import MetricsServer
from stream.processing.intents import Intent, InvalidIntent, decode_intent

__all__ = ["CouponPolicy", "CouponDecision", "CouponBook", "run_coupons", "CSV_FIELDS"]

DAY_MS = 86_400_000


@dataclass(frozen=True)
class CouponPolicy:
    min_probability: float = 0.0
    max_probability: float = 1.0
    cooldown_ms: int = DAY_MS
    daily_budget: int = 1000
    pacing: str = "quantile"  # or "fcfs": first come, first served

    @classmethod
    def from_settings(cls, s: Settings) -> CouponPolicy:
        return cls(
            s.coupon_min_p,
            s.coupon_max_p,
            int(s.coupon_cooldown_s * 1000),
            s.coupon_daily_budget,
            s.coupon_pacing,
        )


@dataclass(frozen=True)
class CouponDecision:
    """One decision per intent; ``coupon`` is True when a coupon is sent."""

    decision_id: str
    user_id: str
    item_id: str
    probability: float
    model_version: str
    event_ts: int
    day: int  # days since the epoch (UTC) of decided_at: the budget's day
    coupon: bool
    reason: str  # granted | below_band | above_band | cooldown | budget | paced
    decided_at: int

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes) -> CouponDecision:
        return cls(**orjson.loads(raw))


CSV_FIELDS = [f for f in CouponDecision.__dataclass_fields__]


def decision_id(intent: Intent) -> str:
    """The same intent (a redelivery, or a replay of the same events) gets the same id."""
    return f"{intent.user_id}|{intent.item_id}|{intent.trigger_event_id}"


class CouponBook:
    """What has been decided so far; :meth:`decide` applies the policy to a new intent."""

    def __init__(self, policy: CouponPolicy) -> None:
        self.policy = policy
        self.decided: set[str] = set()
        self.last_coupon: dict[str, int] = {}
        self.per_day: dict[int, int] = {}
        self.pacer = Pacer() if policy.pacing == "quantile" else None

    def record(self, d: CouponDecision, paced: bool = False) -> None:
        """Fold a decision in (a new one, or one read back from the ledger); ``paced``:
        the pacer has seen its intent already."""
        self.decided.add(d.decision_id)
        if self.pacer is not None and not paced and d.reason in ("granted", "budget", "paced"):
            self.pacer.observe(d.probability, d.decided_at)  # an intent that could have had one
        if d.coupon:
            self.last_coupon[d.user_id] = max(self.last_coupon.get(d.user_id, d.event_ts), d.event_ts)
            self.per_day[d.day] = self.per_day.get(d.day, 0) + 1

    def decide(self, intent: Intent, now_ms: int | None = None) -> CouponDecision | None:
        """The decision for ``intent`` (recorded), or None if it was decided before."""
        did = decision_id(intent)
        if did in self.decided:
            return None
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        p, day = self.policy, now_ms // DAY_MS
        last = self.last_coupon.get(intent.user_id)
        if intent.probability < p.min_probability:
            reason = "below_band"
        elif intent.probability > p.max_probability:
            reason = "above_band"
        elif last is not None and intent.event_ts - last < p.cooldown_ms:
            reason = "cooldown"
        elif self.per_day.get(day, 0) >= p.daily_budget:
            reason = "budget"
        elif self.pacer is not None and not self._paced_in(intent.probability, now_ms):
            reason = "paced"
        else:
            reason = "granted"
        d = CouponDecision(
            did,
            intent.user_id,
            intent.item_id,
            intent.probability,
            intent.model_version,
            intent.event_ts,
            day,
            reason == "granted",
            reason,
            now_ms,
        )
        self.record(d, paced=reason in ("granted", "paced"))
        return d

    def _paced_in(self, probability: float, now_ms: int) -> bool:
        """Whether ``probability`` reaches the paced threshold (seen first by the pacer)."""
        assert self.pacer is not None
        self.pacer.observe(probability, now_ms)
        self.threshold = self.pacer.threshold(self.budget_left(now_ms), now_ms)
        return probability >= self.threshold

    threshold = 0.0  # the latest paced threshold

    def budget_left(self, now_ms: int | None = None) -> int:
        """Coupons still allowed today (UTC processing day)."""
        day = (int(time.time() * 1000) if now_ms is None else now_ms) // DAY_MS
        return max(self.policy.daily_budget - self.per_day.get(day, 0), 0)


def _csv_row(d: CouponDecision) -> list[Any]:
    return [getattr(d, f) for f in CSV_FIELDS]


class _LagFollowsOwnership(ConsumerRebalanceListener):
    """Removes a partition's lag series when the partition is revoked."""

    def __init__(self, metrics: CouponMetrics) -> None:
        self.metrics = metrics

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.metrics.partition_lag.forget(tp.partition for tp in revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


async def _report_lag(cons: Any, metrics: CouponMetrics) -> None:
    assigned = cons.assignment()
    for tp in assigned:
        end = cons.highwater(tp)
        if end is not None:
            metrics.partition_lag.set(tp.partition, max(end - await cons.position(tp), 0))
    metrics.partition_lag.own(tp.partition for tp in assigned)


async def run_coupons(
    settings: Settings,
    policy: CouponPolicy,
    csv_path: Path,
    idle_exit_s: float | None = None,
    log: Callable[[str], None] = print,
    metrics: CouponMetrics | None = None,
) -> dict[str, int]:
    """Consume intents until stopped (or ``idle_exit_s`` without one); returns counts of
    this run's decisions by reason (and of ``unreadable`` and ``redelivered`` intents).
    Serves ``metrics`` (new ones by default) on ``settings.coupon_metrics_port`` unless
    that is 0."""
    metrics = metrics or CouponMetrics()
    server = None
    if settings.coupon_metrics_port:
        server = MetricsServer(metrics, settings.metrics_host, settings.coupon_metrics_port).start()
        log(f"coupons: metrics on http://{settings.metrics_host}:{server.port}/metrics")
    try:
        return await _consume(settings, policy, csv_path, idle_exit_s, log, metrics)
    finally:
        metrics.ready.set(0)
        if server is not None:
            server.stop()


async def _consume(
    settings: Settings,
    policy: CouponPolicy,
    csv_path: Path,
    idle_exit_s: float | None,
    log: Callable[[str], None],
    metrics: CouponMetrics,
) -> dict[str, int]:
    from stream.io.kafka import consumer, ensure_topics, producer, read_topic

    await ensure_topics(settings)
    topic = settings.topic_coupons
    book = CouponBook(policy)
    ledger = [CouponDecision.decode(r.value) for r in await read_topic(settings, topic)]
    for d in ledger:
        book.record(d)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="") as fh:  # the CSV mirrors the ledger exactly
        writer = csv.writer(fh)
        writer.writerow(CSV_FIELDS)
        writer.writerows(_csv_row(d) for d in ledger)
    log(f"coupons: {len(ledger):,} earlier decisions restored from {topic}")
    counts: dict[str, int] = {}
    cons = consumer(settings, group_id=f"{settings.app_id}-coupons")
    cons.subscribe([settings.topic_intents], listener=_LagFollowsOwnership(metrics))
    prod = producer(settings)
    await cons.start()
    await prod.start()
    metrics.budget_left.set(book.budget_left())
    metrics.ready.set(1)
    last_seen = time.monotonic()
    try:
        while idle_exit_s is None or time.monotonic() - last_seen < idle_exit_s:
            batch = await cons.getmany(timeout_ms=500)
            decisions: list[CouponDecision] = []
            for records in batch.values():
                for rec in records:
                    try:
                        intent = decode_intent(rec.value)
                    except InvalidIntent as exc:
                        counts["unreadable"] = counts.get("unreadable", 0) + 1
                        metrics.unreadable.labels(reason=exc.reason).inc()
                        continue
                    decision = book.decide(intent)
                    if decision is None:
                        counts["redelivered"] = counts.get("redelivered", 0) + 1
                        metrics.redelivered.inc()
                        continue
                    decisions.append(decision)
                    counts[decision.reason] = counts.get(decision.reason, 0) + 1
            if batch:
                last_seen = time.monotonic()
                sends = [await prod.send(topic, d.encode(), key=d.user_id.encode()) for d in decisions]
                await asyncio.gather(*sends)  # acknowledged before the offsets move on
                with csv_path.open("a", newline="") as fh:
                    csv.writer(fh).writerows(_csv_row(d) for d in decisions)
                await cons.commit()
                # the budget moves before the counts: a scrape (another thread) that sees a
                # decision always sees the budget it spent
                metrics.budget_left.set(book.budget_left())
                for d in decisions:  # counted once they are on the ledger
                    metrics.decisions.labels(outcome=d.reason).inc()
            metrics.budget_left.set(book.budget_left())
            await _report_lag(cons, metrics)
    finally:
        await cons.stop()
        await prod.stop()
    return counts
