"""The RocksDB store end to end: a worker killed with SIGKILL restarts from its local
databases plus the changelogs' tail, and its state equals an offline replay."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from stream.config import GATES_TABLE, ITEMS_TABLE, SOURCES_TABLE, USERS_TABLE, Settings
from stream.io.kafka import read_topic
from stream.io.replay import replay_events
from stream.io.state_dump import changelog_states, offline_states
from stream.io.worker_process import WorkerProcess
from tests.conftest import wait_for
from tests.stream.runtime.test_worker_integration import assert_same_states, wait_drained

pytestmark = pytest.mark.integration

N = 2500
TABLES = (USERS_TABLE, ITEMS_TABLE, GATES_TABLE, SOURCES_TABLE)


def rocks_worker(
    broker, model: Path, data_dir: Path, log: Path, port: int | None = None, **env: str
) -> WorkerProcess:
    settings = Settings.from_env(
        {}, bootstrap=broker.bootstrap, model_dir=str(model), data_dir=str(data_dir), partitions=4
    )
    return WorkerProcess(
        settings, log, port=port, INTENT_STORE="rocksdb://", INTENT_ROCKSDB_CACHE_MB="32", **env
    )


def restored_records(log: Path) -> int:
    found = re.findall(r"tables recovered: (\d+) changelog records", log.read_text())
    assert found, log.read_text()[-2000:]
    return int(found[-1])


def test_a_killed_worker_restarts_from_its_rocksdb_tables_and_the_changelog_tail(
    broker, quick_model, tmp_path, jdata_events
) -> None:
    s = Settings.from_env({}, bootstrap=broker.bootstrap, partitions=4)
    events = jdata_events[:N]
    data = tmp_path / "data"
    first = rocks_worker(broker, quick_model[0], data, tmp_path / "first.log")
    try:
        first.wait_ready(timeout=90)
        asyncio.run(replay_events(events[: N // 2], s))
        wait_for(lambda: first.metrics().get("intent_events_total", 0) >= N // 2, 120, what="first half")
        wait_drained(s, first, what="the first half committed")
        first_restore = restored_records(tmp_path / "first.log")
    finally:
        first.kill()  # SIGKILL: no clean shutdown, no final commit
    # the same identity (metrics port) and data directory: its RocksDB files are found
    second = rocks_worker(broker, quick_model[0], data, tmp_path / "second.log", port=first.port)
    try:
        asyncio.run(replay_events(events[N // 2 :], s))
        second.wait_ready(timeout=90)
        wait_drained(s, second, what="the restarted worker to catch up")
        restored = restored_records(tmp_path / "second.log")
        assert_same_states(asyncio.run(changelog_states(s)), offline_states(events))
    finally:
        second.stop()
    # the local tables held the first half: only the changelogs' tail was read again
    assert first_restore == 0
    written = sum(len(asyncio.run(read_topic(s, s.changelog_topic(t)))) for t in TABLES)
    assert restored < written / 2, (restored, written)
    assert any(p.suffix == ".db" for p in data.rglob("*users*")), sorted(map(str, data.rglob("*")))[:20]


def test_a_standby_copy_takes_over_a_killed_workers_partitions(
    broker, quick_model, tmp_path, jdata_events
) -> None:
    s = Settings.from_env({}, bootstrap=broker.bootstrap, partitions=4)
    events = jdata_events[:N]
    standby = {"INTENT_STANDBY_REPLICAS": "1"}
    a = rocks_worker(broker, quick_model[0], tmp_path / "a", tmp_path / "a.log", **standby)
    b = rocks_worker(broker, quick_model[0], tmp_path / "b", tmp_path / "b.log", **standby)
    try:
        a.wait_ready(timeout=90)
        b.wait_ready(timeout=90)
        wait_for(
            lambda: a.metrics().get("intent_ready") == 1 and b.metrics().get("intent_ready") == 1,
            timeout=60,
            what="both workers ready after the rebalance",
        )
        asyncio.run(replay_events(events[: N // 2], s))
        wait_drained(s, a, b, what="the first half")
        assert b.metrics().get("intent_events_total", 0) > 0  # b owned partitions
        b.kill()
        asyncio.run(replay_events(events[N // 2 :], s))
        wait_drained(s, a, what="the survivor to take over and drain")
        assert_same_states(asyncio.run(changelog_states(s)), offline_states(events))
        # the takeover read only the changelogs' tail: a kept standby copies of b's partitions
        written = sum(len(asyncio.run(read_topic(s, s.changelog_topic(t)))) for t in TABLES)
        restored = restored_records(tmp_path / "a.log")
        assert restored < written / 2, (restored, written)
    finally:
        a.stop()
        b.stop()
