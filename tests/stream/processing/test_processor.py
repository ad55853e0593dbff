"""The micro-batch processor without Kafka: DLQ routing, dedupe, scoring, intents, failures."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.scorer import Scores
from stream.domain.events import Event, encode_event
from stream.domain.features import FeatureSpec
from stream.monitoring.metrics import WorkerMetrics
from stream.processing.intents import decode_intent
from stream.processing.item_events import decode_item_activity
from stream.processing.policy import ServingPolicy
from stream.processing.processor import (
    EventProcessor,
    ProcessorConfig,
    RawMessage,
    ServingModel,
    Sinks,
)

TS = 1_454_284_800_000


POLICY = ServingPolicy(threshold=0.5, horizon_ms=1_800_000)


class FixedScorer:
    model_version = "fixed"

    def __init__(self, p: float = 0.9, fail: int = 0) -> None:
        self.p, self.fail, self.calls = p, fail, 0

    def score(self, U, I, sizes):
        self.calls += 1
        if self.fail:
            self.fail -= 1
            raise RuntimeError("model exploded")
        assert len(U) == len(I) == sum(sizes)
        p = np.full(len(U), self.p, dtype=np.float32)
        return Scores(p, p, p)


class Recorder:
    def __init__(self) -> None:
        self.sent: dict[str, list[tuple[bytes | int | None, bytes]]] = {"dlq": [], "items": [], "intents": []}

    def item_rows(self) -> int:
        """Events carried by the events-by-item records (one record per partition per batch)."""
        return sum(len(rows) for _, v in self.sent["items"] for rows in decode_item_activity(v).values())

    def sinks(self) -> Sinks:
        async def to(name, k, v):
            self.sent[name].append((k, v))

        return Sinks(
            dlq=lambda k, v: to("dlq", k, v),
            item_events=lambda k, v: to("items", k, v),
            intents=lambda k, v: to("intents", k, v),
        )


def processor(scorer, rec, users=None):
    return EventProcessor(
        users if users is not None else {},
        {},
        {},
        ServingModel(scorer, None, FeatureSpec(), POLICY),
        rec.sinks(),
        WorkerMetrics(),
        ProcessorConfig(cooldown_ms=3_600_000, max_candidates=16),
    )


def msg(e: Event | bytes, offset: int = -1, key: bytes | None = None) -> RawMessage:
    raw = e if isinstance(e, bytes) else encode_event(e)
    k = key if key is not None else (e.user_id.encode() if isinstance(e, Event) else None)
    return RawMessage(k, raw, TS / 1000, offset)


async def test_bad_input_goes_to_dlq_and_counts_balance() -> None:
    rec = Recorder()
    p = processor(FixedScorer(), rec)
    good = [Event(f"e{k}", f"u{k % 3}", f"i{k}", "view", TS + k) for k in range(10)]
    bad = [
        b"\xff",
        b"{}",
        b"[]",
        orjson.dumps({"event_id": "x", "user_id": "u", "item_id": "i", "type": "zap", "ts": TS}),
    ]
    mismatched = msg(good[0].__class__("k1", "u1", "i1", "view", TS), key=b"someone-else")
    batch = [msg(e) for e in good] + [msg(b) for b in bad] + [mismatched]
    r = await p.process_batch(batch)
    assert r.processed + r.dlq + r.duplicates == len(batch)
    assert (r.processed, r.dlq) == (10, 5)
    reasons = [orjson.loads(v)["reason"] for _, v in rec.sent["dlq"]]
    assert sorted(reasons) == sorted(
        ["invalid_utf8", "missing_field", "not_object", "unknown_type", "key_mismatch"]
    )
    first = orjson.loads(rec.sent["dlq"][0][1])
    assert first["original"].encode("latin-1") == b"\xff"  # original bytes kept
    assert rec.item_rows() == 10 and len(rec.sent["items"]) <= 4  # one record per partition


async def test_one_model_call_per_batch_and_no_flooding() -> None:
    rec = Recorder()
    scorer = FixedScorer(p=0.9)
    p = processor(scorer, rec)
    events = [Event(f"e{k}", f"u{k % 4}", f"i{k % 2}", "view", TS + k) for k in range(40)]
    await p.process_batch([msg(e) for e in events])
    assert scorer.calls == 1
    intents = [decode_intent(v) for _, v in rec.sent["intents"]]
    assert {(i.user_id, i.item_id) for i in intents} == {(f"u{u}", f"i{u % 2}") for u in range(4)}
    assert all(i.model_version == "fixed" and i.components["resnet"] == pytest.approx(0.9) for i in intents)
    await p.process_batch([msg(Event("again", "u0", "i0", "view", TS + 100))])
    assert len(rec.sent["intents"]) == len(intents)  # still above threshold: nothing new


async def test_redelivered_batch_changes_nothing() -> None:
    rec = Recorder()
    users: dict = {}
    p = processor(FixedScorer(p=0.1), rec, users)
    batch = [msg(Event(f"e{k}", "u", f"i{k}", "view", TS + k), offset=k) for k in range(5)]
    await p.process_batch(batch)
    before = users["u"].to_dict()
    r = await p.process_batch(batch)
    assert r.duplicates == 5 and users["u"].to_dict() == before


async def test_failing_model_retries_then_dead_letters_and_keeps_going() -> None:
    rec = Recorder()
    scorer = FixedScorer(fail=2)
    p = processor(scorer, rec)
    r = await p.process_batch([msg(Event("e1", "u", "i", "view", TS))])
    assert scorer.calls == 2 and r.intents == []
    ((k, v),) = rec.sent["dlq"]
    assert orjson.loads(v)["reason"] == "scoring_failed"
    r = await p.process_batch([msg(Event("e2", "u", "i", "addtocart", TS + 1))])
    assert len(r.intents) == 1  # the model recovered; consumption went on


async def test_slow_model_times_out_into_the_dlq() -> None:
    import time as _time

    class Slow(FixedScorer):
        def score(self, U, I, sizes):
            _time.sleep(0.3)
            return super().score(U, I, sizes)

    rec = Recorder()
    p = processor(Slow(), rec)
    p.calls.timeout_s = 0.05
    r = await p.process_batch([msg(Event("e1", "u", "i", "view", TS))])
    assert r.processed == 1 and r.intents == []
    assert [orjson.loads(v)["reason"] for _, v in rec.sent["dlq"]] == ["scoring_failed"]


async def test_pseudonymised_ids_never_leave_the_worker() -> None:
    from stream.processing.privacy import Pseudonymizer

    rec = Recorder()
    users: dict = {}
    p = processor(FixedScorer(p=0.9), rec, users)
    p.pseudonymize = Pseudonymizer("k")
    await p.process_batch([msg(Event("e1", "alice@example.com", "i", "view", TS))])
    pseudo = Pseudonymizer("k")("alice@example.com")
    assert list(users) == [pseudo]
    everything = b"".join(
        v + (k if isinstance(k, bytes) else b"") for sent in rec.sent.values() for k, v in sent
    )
    assert b"alice" not in everything and pseudo.encode() in everything


hostile = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda d: orjson.dumps(d),
        st.dictionaries(
            st.sampled_from(["event_id", "user_id", "item_id", "type", "ts", "price", "x"]),
            st.one_of(
                st.integers(-10, 2**40),
                st.text(max_size=5),
                st.none(),
                st.sampled_from(["view", "addtocart", "transaction"]),
                st.just(TS),
            ),
            max_size=7,
        ),
    ),
    st.builds(
        lambda k, u, t: encode_event(Event(f"e{k}", f"u{u}", "i", t, TS + k)),
        st.integers(0, 30),
        st.integers(0, 3),
        st.sampled_from(["view", "addtocart", "transaction"]),
    ),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(hostile, max_size=40))
def test_counts_balance_on_any_input(raws) -> None:
    import asyncio

    rec = Recorder()
    p = processor(FixedScorer(), rec)
    batch = [RawMessage(None, raw, TS / 1000) for raw in raws]
    r = asyncio.run(p.process_batch(batch))
    assert r.processed + r.dlq + r.duplicates == len(batch)
    assert len(rec.sent["dlq"]) == r.dlq and rec.item_rows() == r.processed


class ScoreByPair:
    """Deterministic scores that differ per (user, item) row, so gates open and close."""

    model_version = "by-pair"

    def score(self, U, I, sizes):
        p = ((U[:, :5].sum(axis=1) * 7.3 + I[:, :5].sum(axis=1) * 3.1) % 1.0).astype(np.float32)
        return Scores(p, p, p)


async def test_pipelined_batches_end_where_sequential_ones_do(jdata_events) -> None:
    """The worker stages batch k+1 before batch k is finished (scored, gated, published).
    On 3,000 real events that gives the same states, gates and intents as one batch
    after the other."""
    events = sorted(jdata_events[:3000], key=lambda e: e.ts)
    batches = [
        [msg(e, offset=k + 1000 * b) for k, e in enumerate(events[b * 100 : (b + 1) * 100])]
        for b in range(30)
    ]

    def fresh():
        rec = Recorder()
        proc = EventProcessor(
            {},
            {},
            {},
            ServingModel(ScoreByPair(), None, FeatureSpec(), POLICY),
            rec.sinks(),
            WorkerMetrics(),
            ProcessorConfig(cooldown_ms=600_000, max_candidates=16),
        )
        return proc, rec

    sequential, rec_s = fresh()
    for batch in batches:
        await sequential.process_batch(batch)
    pipelined, rec_p = fresh()
    staged = await pipelined.stage(batches[0])
    for batch in batches[1:]:
        following = await pipelined.stage(batch)
        await pipelined.finish(staged)
        staged = following
    await pipelined.finish(staged)

    assert {u: s.to_dict() for u, s in pipelined.users.items()} == {
        u: s.to_dict() for u, s in sequential.users.items()
    }
    assert pipelined.gates == sequential.gates

    def published(rec):
        return [
            (k, {f: v for f, v in orjson.loads(raw).items() if f not in ("scored_at", "latency_ms")})
            for k, raw in rec.sent["intents"]
        ]

    assert len(rec_s.sent["intents"]) > 50
    assert published(rec_p) == published(rec_s)
    assert {k: w.live.get() for k, w in pipelined.outcomes.windows.items()} == {
        k: w.live.get() for k, w in sequential.outcomes.windows.items()
    }


async def test_history_builds_state_but_publishes_no_intent() -> None:
    """An event written to ``events`` longer ago than the maximum intent age (its Kafka
    timestamp) updates state as usual, but its user is not even scored (no intent could be
    published); the user's next fresh event is judged as if the history had published
    nothing."""
    import time as _time

    now_s = _time.time()
    events = [Event(f"e{k}", f"u{k % 4}", f"i{k % 3}", "view", TS + k) for k in range(24)]

    def run(written_s: float):
        rec, users = Recorder(), {}
        p = processor(scorer := FixedScorer(p=0.9), rec, users)
        p.scorer = scorer
        p.max_intent_age_ms = 600_000
        return (
            p,
            rec,
            users,
            [RawMessage(e.user_id.encode(), encode_event(e), written_s, k) for k, e in enumerate(events)],
        )

    fresh, fresh_rec, fresh_users, fresh_batch = run(now_s)
    await fresh.process_batch(fresh_batch)
    old, old_rec, old_users, old_batch = run(now_s - 7 * 86_400)  # a week-old topic
    await old.process_batch(old_batch)
    assert len(fresh_rec.sent["intents"]) > 0 and old_rec.sent["intents"] == []
    assert {u: s.to_dict() for u, s in old_users.items()} == {u: s.to_dict() for u, s in fresh_users.items()}
    assert old.scorer.calls == 0 and fresh.scorer.calls == 1
    assert old.metrics.history_unscored._value.get() == len(old_users)  # noqa: SLF001
    assert old.gates == {}  # nothing recorded as published
    now = [RawMessage(b"u0", encode_event(Event("live", "u0", "i0", "view", TS + 100)), now_s, 100)]
    await old.process_batch(now)
    assert {decode_intent(v).user_id for _, v in old_rec.sent["intents"]} == {"u0"}


def test_triggers_are_built_whole() -> None:
    """The processor builds a Trigger with tuple.__new__ (no defaults filled in): a field
    added to Trigger must be added there too."""
    from stream.processing.batch import Trigger

    assert Trigger._fields == ("event", "ingest_ms") and not Trigger._field_defaults
