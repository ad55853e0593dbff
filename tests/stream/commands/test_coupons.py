"""``intent coupons`` on a real replay: one decision per intent, the policy held, and a
restart that lost its committed offsets gives no second coupon."""

from __future__ import annotations

import asyncio
import csv
import time

import orjson
import pytest

from stream.commands.coupons import DAY_MS, CouponDecision, CouponPolicy, run_coupons
from stream.config import replace
from stream.io.broker import free_port
from stream.io.kafka import ensure_topics, producer, read_topic
from stream.io.replay import replay_events
from stream.io.worker_process import scrape
from stream.monitoring.coupon_metrics import CouponMetrics
from stream.processing.intents import INTENT_SCHEMA_VERSION, Intent, decode_intent, encode_intent
from tests.conftest import REPLAY_THRESHOLD, settings_for, wait_for

pytestmark = pytest.mark.integration


def test_coupons_from_a_replay_are_idempotent_across_restarts(
    broker, start_worker, jdata_events, tmp_path
) -> None:
    s = replace(settings_for(broker), coupon_metrics_port=0)
    worker = start_worker(INTENT_THRESHOLD=REPLAY_THRESHOLD)
    worker.wait_ready()
    asyncio.run(replay_events(jdata_events[:2500], s))
    wait_for(
        lambda: worker.metrics().get("intent_events_total", 0) >= 2500, timeout=120, what="replay processed"
    )
    wait_for(
        lambda: (
            len(asyncio.run(read_topic(s, s.topic_intents)))
            == worker.metrics()["intent_intents_published_total"]
            > 0
        ),
        what="intents on the topic",
    )
    intents = [decode_intent(r.value) for r in asyncio.run(read_topic(s, s.topic_intents))]
    policy = CouponPolicy(0.0, 1.0, cooldown_ms=600_000, daily_budget=40, pacing="fcfs")
    csv_path = tmp_path / "coupons.csv"

    counts = asyncio.run(run_coupons(s, policy, csv_path, idle_exit_s=3, log=lambda m: None))
    ledger = [CouponDecision.decode(r.value) for r in asyncio.run(read_topic(s, s.topic_coupons))]
    assert sum(counts.values()) == len(intents) == len(ledger)
    assert len({d.decision_id for d in ledger}) == len(ledger)  # one decision per intent
    granted = [d for d in ledger if d.coupon]
    assert counts["granted"] == len(granted) and 0 < len(granted) <= 40 * len({d.day for d in ledger})
    last: dict[str, int] = {}
    for d in sorted(granted, key=lambda d: d.event_ts):  # the cool-down holds per user
        assert d.event_ts - last.get(d.user_id, -(10**15)) >= policy.cooldown_ms
        last[d.user_id] = d.event_ts
    with csv_path.open() as fh:
        rows = list(csv.DictReader(fh))
    key = lambda r: r["decision_id"]  # noqa: E731  (the ledger is read partition by partition)
    assert sorted(r["decision_id"] for r in rows) == sorted(d.decision_id for d in ledger)

    # A restart that lost its offsets (a new consumer group reads every intent again):
    # the ledger knows them all, so nothing new is decided and the CSV stays the same.
    again = asyncio.run(
        run_coupons(
            replace(s, app_id="coupons-restarted"), policy, csv_path, idle_exit_s=3, log=lambda m: None
        )
    )
    assert again == {"redelivered": len(intents)}
    assert len(asyncio.run(read_topic(s, s.topic_coupons))) == len(ledger)
    with csv_path.open() as fh:
        assert sorted(csv.DictReader(fh), key=key) == sorted(rows, key=key)


def test_an_intent_with_a_new_field_earns_its_coupon_and_the_consumer_exports_metrics(
    broker, tmp_path
) -> None:
    """Readers ignore fields they do not know (a producer added ``campaign``); what cannot
    be read is counted by reason; decisions, lag and budget are on the consumer's port."""
    port = free_port()
    s = replace(settings_for(broker), coupon_metrics_port=port)
    now = int(time.time() * 1000)
    base = orjson.loads(
        encode_intent(Intent("u1", "i1", 0.9, 0.5, "v1", {"resnet": 0.9, "forest": 0.9}, "e1", now, now, 1.0))
    )
    messages = [
        orjson.dumps({**base, "campaign": "spring", "schema_version": INTENT_SCHEMA_VERSION}),
        orjson.dumps({**base, "user_id": "u2", "trigger_event_id": "e2", "probability": 0.1}),
        orjson.dumps({**base, "user_id": "u3", "schema_version": INTENT_SCHEMA_VERSION + 1}),
        b"not json",
    ]

    async def publish() -> None:
        await ensure_topics(s)
        prod = producer(s)
        await prod.start()
        try:
            for raw in messages:
                await prod.send_and_wait(s.topic_intents, raw, key=b"u")
        finally:
            await prod.stop()

    asyncio.run(publish())
    metrics = CouponMetrics()
    policy = CouponPolicy(min_probability=0.5, daily_budget=10, pacing="fcfs")
    scraped: dict[str, float] = {}

    async def run_and_scrape() -> dict[str, int]:
        consuming = asyncio.ensure_future(
            run_coupons(s, policy, tmp_path / "c.csv", idle_exit_s=3, log=lambda m: None, metrics=metrics)
        )
        loop = asyncio.get_running_loop()
        while not consuming.done():  # the port answers while the consumer runs
            got = await loop.run_in_executor(None, scrape, f"http://127.0.0.1:{port}/metrics")
            if got.get("intent_coupon_decisions_total", 0) >= 2 and "intent_coupon_consumer_lag" in got:
                scraped.update(got, day=time.time() * 1000 // DAY_MS)
            await asyncio.sleep(0.2)
        return await consuming

    counts = asyncio.run(run_and_scrape())
    assert counts == {"granted": 1, "below_band": 1, "unreadable": 2}
    (granted,) = [
        CouponDecision.decode(r.value)
        for r in asyncio.run(read_topic(s, s.topic_coupons))
        if CouponDecision.decode(r.value).coupon
    ]
    assert (granted.user_id, granted.reason) == ("u1", "granted")
    assert scraped["intent_coupon_decisions_total"] == 2
    assert scraped["intent_coupon_unreadable_total"] == 2
    assert scraped["intent_coupon_consumer_lag"] == 0  # summed over the partitions it owns
    # the budget is today's (UTC processing day): a run across midnight sees a fresh one
    spent_today = scraped["day"] == granted.day
    assert (
        scraped["intent_coupon_budget_remaining"] == 10 - spent_today and scraped["intent_coupon_ready"] == 1
    )
    text = metrics.render().decode()
    assert 'intent_coupon_unreadable_total{reason="unsupported_version"} 1.0' in text
    assert 'intent_coupon_unreadable_total{reason="invalid_json"} 1.0' in text
    assert 'intent_coupon_decisions_total{outcome="granted"} 1.0' in text
