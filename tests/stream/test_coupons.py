"""``intent coupons`` on a real replay: one decision per intent, the policy held, and a
restart that lost its committed offsets gives no second coupon."""
from __future__ import annotations

import asyncio
import csv

import pytest

from stream.config import replace
from stream.coupons import CouponDecision, CouponPolicy, run_coupons
from stream.intents import decode_intent
from stream.kafka import read_topic
from stream.replay import replay_events
from tests.conftest import settings_for, wait_for

pytestmark = pytest.mark.integration


def test_coupons_from_a_replay_are_idempotent_across_restarts(broker, start_worker, jdata_events,
                                                              tmp_path) -> None:
    s = settings_for(broker)
    worker = start_worker()
    worker.wait_ready()
    asyncio.run(replay_events(jdata_events[:2500], s))
    wait_for(lambda: worker.metrics().get("intent_events_total", 0) >= 2500, timeout=120,
             what="replay processed")
    wait_for(lambda: len(asyncio.run(read_topic(s, s.topic_intents)))
             == worker.metrics()["intent_intents_published_total"] > 0, what="intents on the topic")
    intents = [decode_intent(r.value) for r in asyncio.run(read_topic(s, s.topic_intents))]
    policy = CouponPolicy(min_probability=0.0, max_probability=1.0, cooldown_ms=600_000, daily_budget=40)
    csv_path = tmp_path / "coupons.csv"

    counts = asyncio.run(run_coupons(s, policy, csv_path, idle_exit_s=3, log=lambda m: None))
    ledger = [CouponDecision.decode(r.value) for r in asyncio.run(read_topic(s, s.topic_coupons))]
    assert sum(counts.values()) == len(intents) == len(ledger)
    assert len({d.decision_id for d in ledger}) == len(ledger)  # one decision per intent
    granted = [d for d in ledger if d.coupon]
    assert counts["granted"] == len(granted) and 0 < len(granted) <= 40 * len({d.day for d in ledger})
    last: dict[str, int] = {}
    for d in sorted(granted, key=lambda d: d.event_ts):  # the cool-down holds per user
        assert d.event_ts - last.get(d.user_id, -10**15) >= policy.cooldown_ms
        last[d.user_id] = d.event_ts
    with csv_path.open() as fh:
        rows = list(csv.DictReader(fh))
    key = lambda r: r["decision_id"]  # noqa: E731  (the ledger is read partition by partition)
    assert sorted(r["decision_id"] for r in rows) == sorted(d.decision_id for d in ledger)

    # A restart that lost its offsets (a new consumer group reads every intent again):
    # the ledger knows them all, so nothing new is decided and the CSV stays the same.
    again = asyncio.run(run_coupons(replace(s, app_id="coupons-restarted"), policy, csv_path,
                                    idle_exit_s=3, log=lambda m: None))
    assert again == {"redelivered": len(intents)}
    assert len(asyncio.run(read_topic(s, s.topic_coupons))) == len(ledger)
    with csv_path.open() as fh:
        assert sorted(csv.DictReader(fh), key=key) == sorted(rows, key=key)
