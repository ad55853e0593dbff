"""The events topic as it really is: a partition count the worker was not configured for is
refused at start, and a recreated topic's events are all processed, none taken for a
repeat of the old topic's (whose offsets they reuse)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stream.io.replay import replay_events
from stream.io.state_dump import changelog_states, offline_states
from tests.conftest import settings_for, wait_for
from tests.stream.runtime.test_worker_integration import assert_same_states, wait_drained

pytestmark = pytest.mark.integration


async def _recreate(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic in await admin.list_topics():
            await admin.delete_topics([topic])
            await asyncio.sleep(0.5)
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


def test_an_events_topic_with_another_partition_count_is_refused(broker, quick_model, tmp_path) -> None:
    asyncio.run(_recreate(broker.bootstrap, "events", 2))
    proc = subprocess.run(
        [sys.executable, "-m", "stream.commands.cli", "worker", "--bootstrap", broker.bootstrap,
         "--model", str(quick_model[0]), "--partitions", "4", "--metrics-port", "0"],
        capture_output=True, text=True, timeout=120,
        env={"INTENT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert "topic 'events' has 2 partitions but INTENT_PARTITIONS is 4" in line


def test_a_recreated_events_topic_loses_nothing(broker, start_worker, jdata_events) -> None:
    s = settings_for(broker)
    old, new = jdata_events[:600], jdata_events[600:1000]
    first = start_worker()
    first.wait_ready()
    asyncio.run(replay_events(old, s))
    wait_drained(s, first, what="the old topic's events")
    first.stop()
    # the topic is deleted and created again: its offsets start over, the state stays
    asyncio.run(_recreate(broker.bootstrap, s.topic_events, 4))
    asyncio.run(replay_events(new, s))
    second = start_worker()
    second.wait_ready(timeout=90)
    wait_drained(s, second, what="the new topic's events")
    m = wait_for(lambda: (m := second.metrics()) and m.get("intent_events_total", 0) >= len(new) and m, 60)
    assert m.get("intent_events_duplicate_total", 0) == 0
    assert m["intent_source_log_restarts_total"] >= 1
    assert_same_states(asyncio.run(changelog_states(s)), offline_states(old + new))
