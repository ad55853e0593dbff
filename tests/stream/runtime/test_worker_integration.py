"""The worker end to end on the real embedded broker (Tansu), as separate processes."""

from __future__ import annotations

import asyncio

import numpy as np
import orjson
import pytest

from stream.config import ITEMS_TABLE
from stream.domain.features import FeatureSpec, pair_features
from stream.domain.state import ItemStats
from stream.domain.state_codec import decode_item
from stream.io.kafka import group_lag, producer, read_topic
from stream.io.replay import replay_events
from stream.io.state_dump import changelog_states, dump_lines, offline_states
from stream.processing.intents import decode_intent
from tests.conftest import REPLAY_THRESHOLD, settings_for, wait_for

pytestmark = pytest.mark.integration

N = 2500  # real JD.com events: the first minutes of February 2016


def drained(settings) -> bool:
    return asyncio.run(group_lag(settings, settings.topic_events)) == 0


def wait_drained(settings, *workers, timeout: float = 180, what: str = "the topic to drain") -> None:
    """Wait until the group has committed every event; on timeout, say what each worker saw."""
    try:
        wait_for(lambda: drained(settings), timeout=timeout, what=what)
    except TimeoutError as exc:
        seen = [
            {k: v for k, v in w.metrics().items() if k.startswith(("intent_events", "intent_ready"))}
            for w in workers
        ]
        lag = asyncio.run(group_lag(settings, settings.topic_events))
        raise TimeoutError(f"{exc}; lag {lag}; workers saw {seen}") from None


def test_replay_to_intents(broker, start_worker, jdata_events) -> None:
    s = settings_for(broker)
    worker = start_worker(INTENT_THRESHOLD=REPLAY_THRESHOLD)
    worker.wait_ready()
    events = jdata_events[:N]
    asyncio.run(replay_events(events, s))
    m = wait_for(
        lambda: (m := worker.metrics()) and m.get("intent_events_total", 0) >= N and m,
        timeout=120,
        what="worker to process the replay",
    )
    assert m["intent_events_total"] == N and m.get("intent_dlq_total", 0) == 0
    wait_for(lambda: drained(s), what="offsets committed")
    records = asyncio.run(read_topic(s, s.topic_intents))
    m = worker.metrics()
    assert 0 < len(records) == m["intent_intents_published_total"]
    intent = decode_intent(records[0].value)
    assert records[0].key == intent.user_id.encode()
    assert 0 <= intent.probability <= 1 and intent.probability >= intent.threshold
    assert set(intent.components) == {"resnet", "forest"}
    assert intent.trigger_event_id in {e.event_id for e in events}
    text = worker.metrics()
    assert text.get("intent_event_to_intent_latency_seconds_count", 0) > 0
    n_users = len({e.user_id for e in events})
    wait_for(
        lambda: worker.metrics().get("intent_users_in_state") == n_users,
        timeout=15,
        what=f"users gauge to reach {n_users}",
    )
    # the items table, fed by one events-by-item record per partition per batch, counts
    # every event once (decayed counts may differ in the last bits: partitions interleave)
    offline_items: dict[str, ItemStats] = {}
    for e in events:
        offline_items.setdefault(e.item_id, ItemStats()).update(e)

    def streamed_totals() -> dict:
        streamed = {
            r.key.decode(): decode_item(r.value).totals
            for r in asyncio.run(read_topic(s, s.changelog_topic(ITEMS_TABLE)))
        }
        return streamed if streamed == {k: v.totals for k, v in offline_items.items()} else {}

    wait_for(streamed_totals, timeout=15, what="the items table's last window in its changelog")


def test_malformed_events_go_to_dlq_and_nothing_is_lost(broker, start_worker, jdata_events) -> None:
    s = settings_for(broker)
    worker = start_worker()
    worker.wait_ready()
    good = jdata_events[:300]
    bad = [
        b"\xff\xfe",
        b"not json",
        b"[]",
        orjson.dumps({"event_id": "x"}),
        orjson.dumps({"event_id": "y", "user_id": "u", "item_id": "i", "type": "view", "ts": -1}),
        b"{" + b'"a":1,' * 1000 + b'"b":2}',
    ]

    async def publish() -> None:
        from stream.domain.events import encode_event

        prod = producer(s)
        await prod.start()
        try:
            for k, e in enumerate(good):
                await prod.send(s.topic_events, encode_event(e), key=e.user_id.encode())
                if k % 50 == 0:
                    await prod.send(s.topic_events, bad[(k // 50) % len(bad)], key=b"u")
            for raw in bad:
                await prod.send(s.topic_events, raw, key=b"u")
            await prod.send(s.topic_events, encode_event(good[0]), key=good[0].user_id.encode())  # repeat
            await prod.flush()
        finally:
            await prod.stop()

    from stream.io.kafka import ensure_topics

    asyncio.run(ensure_topics(s))
    asyncio.run(publish())
    n_bad = len(bad) + len(range(0, 300, 50))
    n_in = len(good) + n_bad + 1
    m = wait_for(
        lambda: (
            (m := worker.metrics())
            and (
                m.get("intent_events_total", 0)
                + m.get("intent_dlq_total", 0)
                + m.get("intent_events_duplicate_total", 0)
            )
            >= n_in
            and m
        ),
        timeout=90,
        what="all messages accounted for",
    )
    assert m["intent_events_total"] == len(good)
    assert m["intent_dlq_total"] == n_bad
    assert m["intent_events_duplicate_total"] == 1
    wait_for(lambda: drained(s), what="offsets committed")
    dlq = asyncio.run(read_topic(s, s.topic_dlq))
    assert len(dlq) == n_bad
    reasons = {orjson.loads(r.value)["reason"] for r in dlq}
    assert reasons == {
        "invalid_utf8",
        "invalid_json",
        "not_object",
        "missing_field",
        "absurd_timestamp",
        "oversize",
    }
    originals = {orjson.loads(r.value)["original"].encode("latin-1") for r in dlq}
    assert set(bad) <= originals


def assert_same_states(streamed, offline) -> None:
    """Identical dumps; on failure, say which users differ and how."""
    if dump_lines(streamed) == dump_lines(offline):
        return
    missing = sorted(set(offline) - set(streamed))[:5]
    extra = sorted(set(streamed) - set(offline))[:5]
    differ = [
        u
        for u in sorted(set(offline) & set(streamed))
        if streamed[u].feature_dict() != offline[u].feature_dict()
    ]
    detail = ""
    if differ:
        a, b = streamed[differ[0]].feature_dict(), offline[differ[0]].feature_dict()
        detail = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    pytest.fail(
        f"states differ: {len(differ)} users (first {differ[:3]}: {str(detail)[:800]}); "
        f"missing {missing}; extra {extra}"
    )


def _vectors(states, items, users):
    spec = FeatureSpec()
    return [pair_features(spec, u, states[u], states[u].candidates(16), items, None) for u in users]


def test_killed_worker_restarts_from_changelog(broker, start_worker, jdata_events) -> None:
    s = settings_for(broker)
    events = jdata_events[:N]
    first = start_worker()
    first.wait_ready()
    asyncio.run(replay_events(events[: N // 2], s))
    wait_for(
        lambda: first.metrics().get("intent_events_total", 0) >= N // 2,
        timeout=120,
        what="first half processed",
    )
    first.kill()  # SIGKILL: no clean shutdown, no final commit
    second = start_worker()
    asyncio.run(replay_events(events[N // 2 :], s))
    second.wait_ready(timeout=90)
    wait_drained(s, second, what="second worker to catch up")
    streamed = asyncio.run(changelog_states(s))
    offline = offline_states(events)
    assert_same_states(streamed, offline)  # no event lost, none counted twice
    # The worker's restored table (not just the changelog) carried the first half:
    # users seen in both halves would otherwise have been restarted from empty state.
    both = {e.user_id for e in events[: N // 2]} & {e.user_id for e in events[N // 2 :]}
    assert both
    users = sorted(both)[:20]
    for (U1, I1), (U2, I2) in zip(_vectors(streamed, {}, users), _vectors(offline, {}, users)):
        np.testing.assert_array_equal(U1, U2)
        np.testing.assert_array_equal(I1, I2)


def two_ready_workers(start_worker):
    a, b = start_worker(), start_worker()
    a.wait_ready(timeout=90)
    b.wait_ready(timeout=90)
    wait_for(
        lambda: a.metrics().get("intent_ready") == 1 and b.metrics().get("intent_ready") == 1,
        timeout=60,
        what="both workers ready after the rebalance",
    )
    return a, b


def test_two_workers_share_the_partitions(broker, start_worker, jdata_events) -> None:
    s = settings_for(broker)
    a, b = two_ready_workers(start_worker)
    events = jdata_events[:N]
    asyncio.run(replay_events(events, s))
    wait_drained(s, a, b, what="both workers to drain the topic")
    ma, mb = a.metrics(), b.metrics()
    assert ma.get("intent_events_total", 0) > 0 and mb.get("intent_events_total", 0) > 0
    assert ma["intent_events_total"] + mb["intent_events_total"] == N
    assert_same_states(asyncio.run(changelog_states(s)), offline_states(events))


def test_killed_worker_hands_its_partitions_to_the_survivor(broker, start_worker, jdata_events) -> None:
    s = settings_for(broker)
    a, b = two_ready_workers(start_worker)
    events = jdata_events[:N]
    asyncio.run(replay_events(events[: N // 2], s))
    wait_for(
        lambda: (
            a.metrics().get("intent_events_total", 0) + b.metrics().get("intent_events_total", 0) >= N // 2
        ),
        timeout=120,
        what="first half processed",
    )
    assert b.metrics().get("intent_events_total", 0) > 0  # b owned partitions before dying
    b.kill()
    asyncio.run(replay_events(events[N // 2 :], s))
    wait_drained(s, a, what="the survivor to take over and drain")
    assert_same_states(asyncio.run(changelog_states(s)), offline_states(events))
    assert a.metrics()["intent_users_in_state"] == len({e.user_id for e in events})


def test_pseudonymised_worker_matches_pseudonymised_offline_dump(broker, start_worker, jdata_events) -> None:
    from stream.processing.privacy import Pseudonymizer

    s = settings_for(broker)
    w = start_worker(INTENT_PSEUDONYMIZE_KEY="k3y")
    w.wait_ready()
    events = jdata_events[:500]
    asyncio.run(replay_events(events, s))
    wait_for(
        lambda: drained(s) and w.metrics().get("intent_events_total", 0) >= 500,
        timeout=120,
        what="replay processed",
    )
    streamed = asyncio.run(changelog_states(s))
    assert not set(streamed) & {e.user_id for e in events}  # no raw id in state
    assert_same_states(streamed, offline_states(events, Pseudonymizer("k3y")))


def partition_lags(worker) -> dict[int, float]:
    """``intent_consumer_lag`` per partition, as the worker exports it."""
    import urllib.request

    text = urllib.request.urlopen(worker.url + "/metrics", timeout=2).read().decode()
    lags = {}
    for line in text.splitlines():
        if line.startswith("intent_consumer_lag{"):
            labels, _, value = line.rpartition(" ")
            lags[int(labels.split('partition="')[1].split('"')[0])] = float(value)
    return lags


def test_lag_series_follow_partition_ownership(broker, start_worker, jdata_events) -> None:
    """A worker that gives partitions to a new peer stops exporting their lag, so the
    fleet's sum counts each partition once (a frozen series would count twice)."""
    import threading

    s = settings_for(broker)
    a = start_worker()
    a.wait_ready()
    events = jdata_events[:N]
    replaying = threading.Thread(target=lambda: asyncio.run(replay_events(events, s, rate=250)))
    replaying.start()  # a steady stream: lag is rarely zero when a partition is revoked
    try:
        wait_for(lambda: len(partition_lags(a)) == 4, timeout=30, what="a to export all 4 partitions")
        b = start_worker()
        b.wait_ready(timeout=90)
        wait_for(
            lambda: a.metrics().get("intent_ready") == 1 and b.metrics().get("intent_ready") == 1,
            timeout=60,
            what="both workers ready after the rebalance",
        )
    finally:
        replaying.join()
    wait_drained(s, a, b, what="both workers to drain the topic")

    seen: dict[str, dict[int, float]] = {}

    def fleet() -> bool:
        la, lb = seen["a"], seen["b"] = partition_lags(a), partition_lags(b)
        once = not set(la) & set(lb) and set(la) | set(lb) == {0, 1, 2, 3}
        return bool(once and la and lb and sum(la.values()) + sum(lb.values()) == 0)

    try:
        wait_for(fleet, timeout=20)
    except TimeoutError:
        pytest.fail(
            f"each partition's lag should be exported by its owner alone and sum to the "
            f"group's lag, 0: a exports {seen['a']}, b {seen['b']}"
        )
