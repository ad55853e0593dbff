"""Retention end to end: users and items past ``INTENT_STATE_TTL_DAYS`` (event time) are
removed with tombstones, the removal survives a SIGKILL and a restore, and a removed user
who comes back starts cold."""

from __future__ import annotations

import asyncio

import pytest

from stream.domain.events import Event
from stream.io.replay import replay_events
from stream.io.state_dump import changelog_states, offline_states
from tests.conftest import settings_for, wait_for
from tests.stream.runtime.test_worker_integration import assert_same_states, wait_drained

pytestmark = pytest.mark.integration

RETENTION = {"INTENT_STATE_TTL_DAYS": "1", "INTENT_STATE_SWEEP_S": "1"}


def test_state_past_the_retention_is_removed_for_good(broker, start_worker, jdata_events) -> None:
    s = settings_for(broker)
    feb = [e for e in jdata_events if e.source.endswith("201602")][:800]
    apr = [e for e in jdata_events if e.source.endswith("201604")][:800]
    assert feb and apr and apr[0].ts - feb[-1].ts > 2 * 86_400_000
    first = start_worker(**RETENTION)
    first.wait_ready()
    asyncio.run(replay_events(feb, s))
    wait_drained(s, first, what="February")
    # one event, in April, moves event time on: every February user is past the retention
    clock = [Event("clock", "clock-user", "clock-item", "view", apr[0].ts)]
    asyncio.run(replay_events(clock, s))
    feb_users = len({e.user_id for e in feb})
    wait_for(
        lambda: first.metrics().get("intent_state_expired_total", 0) >= feb_users,
        timeout=60,
        what=f"the {feb_users} February users (and their items) removed",
    )
    asyncio.run(replay_events(apr, s))  # some of them come back
    wait_drained(s, first, what="April")
    first.kill()  # SIGKILL: the removals must hold on their own (tombstones)
    second = start_worker(**RETENTION)
    second.wait_ready(timeout=90)
    expected = offline_states(clock + apr)  # returning users start cold
    assert_same_states(asyncio.run(changelog_states(s)), expected)
    wait_for(
        lambda: second.metrics().get("intent_users_in_state") == len(expected),
        timeout=30,
        what="the restored worker to hold exactly the retained users",
    )
