"""Feature windows: decayed counts are exact, order-independent, bounded and restorable."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.domain.events import EVENT_TYPES, Event
from stream.domain.state import (
    CART,
    DEDUPE_IDS,
    HALF_LIVES_MS,
    MAX_CATEGORIES,
    MAX_ITEMS,
    N_TYPES,
    REMOVE,
    SESSION_TOUCHES,
    ItemStats,
    UserState,
    open_cart,
)

events_strategy = st.lists(
    st.tuples(
        st.integers(0, 3 * 86_400_000), st.sampled_from(EVENT_TYPES), st.integers(0, 60), st.integers(0, 30)
    ),
    min_size=1,
    max_size=80,
)


def make(evts) -> list[Event]:
    return [Event(f"e{k}", "u", f"i{item}", t, ts, f"c{cat}") for k, (ts, t, item, cat) in enumerate(evts)]


@settings(max_examples=150, deadline=None)
@given(events_strategy)
def test_decayed_counts_match_the_definition(evts) -> None:
    events = make(evts)
    s = UserState()
    for e in events:
        s.update(e)
    T = max(e.ts for e in events)
    assert s.ref_ts == T
    # session_last() reads ref_ts for max(last_ts): the two never part
    assert s.session_last() == max(s.last_ts) == T
    for h, half_life in enumerate(HALF_LIVES_MS):
        for t, name in enumerate(EVENT_TYPES):
            expected = sum(2.0 ** (-(T - e.ts) / half_life) for e in events if e.type == name)
            assert s.counts[h * N_TYPES + t] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert s.n_events == len(events)


@settings(max_examples=100, deadline=None)
@given(events_strategy, st.randoms())
def test_order_of_arrival_does_not_change_counts(evts, rnd) -> None:
    events = make(evts)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    a, b = UserState(), UserState()
    for e in events:
        a.update(e)
    for e in shuffled:
        b.update(e)
    assert a.counts == pytest.approx(b.counts, rel=1e-9, abs=1e-12)
    assert a.last_ts == b.last_ts and a.ref_ts == b.ref_ts and a.first_ts == b.first_ts


@settings(max_examples=100, deadline=None)
@given(events_strategy)
def test_state_is_bounded_and_survives_serialisation(evts) -> None:
    s = UserState()
    for e in make(evts):
        s.update(e)
    assert len(s.items) <= MAX_ITEMS and len(s.categories) <= MAX_CATEGORIES
    assert len(s.recent_ids) <= DEDUPE_IDS
    restored = UserState.from_dict(orjson.loads(orjson.dumps(s.to_dict())))
    assert restored == s


def test_duplicates_and_redelivery_are_ignored() -> None:
    s = UserState()
    e = Event("e1", "u", "i", "view", 1000)
    assert s.update(e, offset=5)
    assert not s.update(Event("e2", "u", "i", "view", 2000), offset=5)  # redelivered offset
    assert not s.update(e, offset=6)  # same event_id: a producer retry
    assert s.n_events == 1


def test_sessions_split_on_a_30_minute_gap() -> None:
    s = UserState()
    for k, ts in enumerate([0, 60_000, 60_000 + 31 * 60_000]):
        s.update(Event(f"e{k}", "u", "i", "view", ts))
    assert (s.n_sessions, s.session_events) == (2, 1)


def test_least_recent_items_are_evicted() -> None:
    s = UserState()
    for k in range(MAX_ITEMS + 5):
        s.update(Event(f"e{k}", "u", f"i{k}", "view", k * 1000))
    assert "i0" not in s.items and f"i{MAX_ITEMS + 4}" in s.items
    assert s.candidates(3) == [f"i{MAX_ITEMS + 4}", f"i{MAX_ITEMS + 3}", f"i{MAX_ITEMS + 2}"]


def test_candidates_put_open_carts_first_and_eviction_never_drops_them() -> None:
    s = UserState()
    s.update(Event("c", "u", "carted", "addtocart", 0))
    s.update(Event("r", "u", "removed", "addtocart", 1))
    s.update(Event("r2", "u", "removed", "remove_from_cart", 2))
    for k in range(MAX_ITEMS + 10):  # a flood of newer views
        s.update(Event(f"v{k}", "u", f"i{k}", "view", 10 + k))
    assert "carted" in s.items and "removed" not in s.items  # a removed cart is an ordinary item
    assert s.candidates(3) == ["carted", f"i{MAX_ITEMS + 9}", f"i{MAX_ITEMS + 8}"]
    assert open_cart(s.items["carted"]) == 1
    s.update(Event("b", "u", "carted", "transaction", 10_000))
    assert open_cart(s.items["carted"]) == 0  # bought: the cart is closed
    assert s.candidates(1) == ["carted"]  # and it is simply the most recent touch


def test_touches_count_within_the_current_session_only() -> None:
    s = UserState()
    for k, ts in enumerate([0, 60_000, 120_000, 120_000 + 31 * 60_000]):
        s.update(Event(f"e{k}", "u", "i", "view", ts))
    assert s.items["i"][SESSION_TOUCHES] == 1 and s.n_sessions == 2


def test_a_state_written_before_six_event_types_is_upgraded_on_load() -> None:
    """A changelog record of the previous release (3 types, 3 half-lives, 7-field items)
    loads into today's layout with nothing lost."""
    old = {
        "ref_ts": 600_000,
        "first_ts": 0,
        "n_events": 2,
        "counts": [0.5, 1.0, 0.0, 0.9, 1.0, 0.0, 1.0, 1.0, 0.0],
        "last_ts": [0, 600_000, 0],
        "session_start": 0,
        "session_events": 2,
        "n_sessions": 1,
        "items": {"i1": [1, 1, 0, 0, 600_000, 600_000, "c1"]},
        "categories": {"c1": 1.9},
        "recent_ids": [1, 2],
        "source_offset": 7,
    }
    s = UserState.from_dict(old)
    assert len(s.counts) == N_TYPES * len(HALF_LIVES_MS) and len(s.last_ts) == N_TYPES
    assert s.counts[:3] == [0.5, 1.0, 0.0] and s.counts[N_TYPES : N_TYPES + 3] == [0.9, 1.0, 0.0]
    assert s.items["i1"][CART] == 1 and s.items["i1"][REMOVE] == 0 and open_cart(s.items["i1"]) == 1
    assert s.candidates(1) == ["i1"] and s.categories == {"c1": [1.9, 0, 0]} and s.source_offset == 7
    s.update(Event("e3", "u", "i1", "transaction", 700_000, "c1"))  # and it keeps working
    assert open_cart(s.items["i1"]) == 0
    old_item = {"ref_ts": 5, "counts": [1.0] * 6, "totals": [3, 1, 0], "price": 2.0}
    stats = ItemStats.from_dict(old_item)
    assert stats.totals == [3, 1, 0, 0, 0, 0] and stats.brand is None
