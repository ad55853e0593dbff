"""A first deployment against a topic with history floods no one: three days of real
events written with old Kafka timestamps build the same state as a normal run and
publish no intent, and intents spanning three event days, read at once, spend one
day's coupon budget."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from stream.commands.coupons import CouponDecision, CouponPolicy, run_coupons
from stream.config import replace
from stream.io.kafka import read_topic
from stream.io.replay import replay_events
from stream.io.state_dump import changelog_states, offline_states
from stream.processing.intents import decode_intent
from tests.conftest import settings_for, wait_for
from tests.stream.runtime.test_worker_integration import assert_same_states, wait_drained

pytestmark = pytest.mark.integration

PER_DAY = 500  # real JD.com events of each of its three days (Jan 31, Feb 29, Mar 31 2016)


def _day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).date().isoformat()


def test_backfill_builds_state_publishes_nothing_and_coupons_spend_one_budget(
    broker, start_worker, jdata_events, tmp_path
) -> None:
    s = replace(settings_for(broker), coupon_metrics_port=0)
    by_day: dict[str, list] = {}
    for e in jdata_events:
        by_day.setdefault(_day(e.ts), []).append(e)
    assert len(by_day) == 3
    history = [e for day in sorted(by_day) for e in by_day[day][:PER_DAY]]
    today = [e for day in sorted(by_day) for e in by_day[day][PER_DAY : 2 * PER_DAY]]
    # threshold 0: every new pair would be an intent, so "none" is no accident of the model
    worker = start_worker(INTENT_THRESHOLD="0")
    worker.wait_ready()

    # 1. The topic's history: each record written when its event happened (2016).
    asyncio.run(replay_events(history, s, kafka_ts=lambda e: e.ts))
    wait_drained(s, worker, what="the history to be processed")
    wait_for(
        lambda: worker.metrics().get("intent_events_total") == len(history),
        timeout=30,
        what="every historical event counted",
    )
    m = worker.metrics()
    assert m.get("intent_intents_published_total", 0) == 0
    assert m["intent_history_unscored_total"] > 0  # history: its users were not scored
    assert asyncio.run(read_topic(s, s.topic_intents)) == []
    assert_same_states(asyncio.run(changelog_states(s)), offline_states(history))

    # 2. The next events of the same three days, replayed today: fresh, so published.
    asyncio.run(replay_events(today, s))
    wait_drained(s, worker, what="today's replay to be processed")
    n_intents = wait_for(
        lambda: (
            (n := worker.metrics().get("intent_intents_published_total", 0))
            and len(asyncio.run(read_topic(s, s.topic_intents))) == n
            and n
        ),
        what="intents on the topic",
    )
    intents = [decode_intent(r.value) for r in asyncio.run(read_topic(s, s.topic_intents))]
    assert len(intents) == n_intents
    assert {_day(i.event_ts) for i in intents} == set(by_day)  # they span the three event days
    budget = 5
    users_per_day = {d: len({i.user_id for i in intents if _day(i.event_ts) == d}) for d in by_day}
    assert all(n >= budget for n in users_per_day.values())  # a budget per event day would grant 3x

    counts = asyncio.run(
        run_coupons(
            s,
            CouponPolicy(daily_budget=budget, pacing="fcfs"),
            tmp_path / "c.csv",
            idle_exit_s=3,
            log=lambda m: None,
        )
    )
    ledger = [CouponDecision.decode(r.value) for r in asyncio.run(read_topic(s, s.topic_coupons))]
    assert counts["granted"] == budget == sum(d.coupon for d in ledger)
    assert len({d.day for d in ledger}) == 1  # today, the processing day
