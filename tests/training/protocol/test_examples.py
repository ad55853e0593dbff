"""Point-in-time examples: correct labels on a hand-made history, no leakage across time or
across the split's boundaries, and every purchase counted."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.domain.events import Event
from training.protocol.examples import build_examples
from training.protocol.splits import CalendarSplit

MIN = 60_000
DAY = 1_440 * MIN


def history() -> list[Event]:
    return [
        Event("1", "alice", "pen", "view", 0, "c1"),
        Event("2", "alice", "ink", "view", 1 * MIN, "c1"),
        Event("3", "bob", "pen", "view", 2 * MIN, "c1"),
        Event("4", "alice", "pen", "addtocart", 3 * MIN, "c1"),
        Event("5", "alice", "pen", "transaction", 10 * MIN, "c1"),
        Event("6", "bob", "pen", "view", 50 * MIN, "c1"),
        Event("7", "bob", "pen", "transaction", 90 * MIN, "c1"),
    ]


def rows(ex):
    out = []
    for g, (s, n) in enumerate(zip(ex.group_starts(), ex.sizes)):
        for r in range(s, s + n):
            out.append((ex.moment_index[g], ex.users[g], ex.items[r], int(ex.y[r])))
    return out


def test_labels_follow_the_horizon() -> None:
    ex = build_examples(history(), horizon_ms=30 * MIN)["all"]
    got = rows(ex)
    # alice buys the pen at 10 min: every earlier moment of hers labels the pen 1, ink 0
    assert (0, "alice", "pen", 1) in got and (1, "alice", "ink", 0) in got and (3, "alice", "pen", 1) in got
    # the purchase moment itself is not its own label
    assert (4, "alice", "pen", 0) in got
    # bob's view at 2 min is 88 min before his purchase: outside the horizon
    assert (2, "bob", "pen", 0) in got and (5, "bob", "pen", 0) in got
    # purchases are counted from one horizon after the first moment: bob's, not alice's
    assert ex.purchases.users == ["bob"] and ex.purchases.candidate == [True]
    assert ex.cover.tolist() == []  # bob's only earlier moment is 40 minutes before: nothing catches it


def test_a_purchase_is_covered_by_the_rows_that_could_catch_it() -> None:
    evts = (
        [Event("0", "z", "x", "view", 0)]
        + [Event(str(k), "u", "i", "view", k * MIN) for k in range(40, 45)]
        + [Event("b", "u", "i", "transaction", 50 * MIN), Event("n", "u", "j", "transaction", 51 * MIN)]
    )
    ex = build_examples(evts, horizon_ms=30 * MIN)["all"]
    assert ex.purchases.items == ["i", "j"] and ex.purchases.candidate == [True, False]
    assert ex.purchases.touched == [True, False]  # j was never touched: no model could have caught it
    covering = sorted(r for r, p in ex.cover.tolist() if p == 0)
    assert [ex.items[r] for r in covering] == ["i"] * 5 and all(ex.y[r] == 1 for r in covering)


def test_future_events_never_change_past_features() -> None:
    base = history()
    a = build_examples(base[:4], horizon_ms=30 * MIN)["all"]
    b = build_examples(base + [Event("8", "alice", "pen", "view", 91 * MIN, "c2")], horizon_ms=30 * MIN)[
        "all"
    ]
    n, g = a.n, len(a.sizes)
    np.testing.assert_array_equal(a.U, b.U[:g])
    np.testing.assert_array_equal(a.I, b.I[:n])
    np.testing.assert_array_equal(a.sequences(), b.sequences(np.arange(n)))


def test_same_second_events_form_one_moment() -> None:
    evts = [
        Event("a", "u", "i", "view", 0),
        Event("b", "u", "i", "view", 0),
        Event("c", "u", "j", "view", 1000),
    ]
    ex = build_examples(evts)["all"]
    assert list(ex.moment_index) == [1, 2]


def test_training_moments_without_a_purchase_are_sampled_before_features_are_built() -> None:
    evts = [Event(f"e{k}", f"u{k % 7}", f"i{k % 5}", "view", k * MIN) for k in range(300)]
    evts += [Event("b", "u1", "i1", "transaction", 300 * MIN)]
    split = CalendarSplit(
        start=0, val_start=400 * MIN, test_start=500 * MIN, end=600 * MIN, embargo_ms=30 * MIN
    )
    full = build_examples(evts, split=split, horizon_ms=30 * MIN)["train"]
    few = build_examples(evts, split=split, horizon_ms=30 * MIN, neg_group_rate=0.1, seed=3)["train"]
    assert few.y.sum() == full.y.sum() > 0  # every moment with a purchase is kept
    assert len(few.sizes) < 0.3 * len(full.sizes)


@st.composite
def histories(draw) -> list[Event]:
    n = draw(st.integers(20, 120))
    evts = []
    for k in range(n):
        ts = draw(st.integers(0, 5 * DAY - 1))
        kind = draw(
            st.sampled_from(["view", "view", "addtocart", "transaction", "favorite", "remove_from_cart"])
        )
        evts.append(Event(f"e{k}", f"u{draw(st.integers(0, 4))}", f"i{draw(st.integers(0, 5))}", kind, ts))
    # every day active, so the split has 3 train, 1 validation and 1 test day
    evts += [Event(f"d{d}", "anchor", "x", "view", d * DAY + 1) for d in range(5)]
    return sorted(evts, key=lambda e: e.ts)


@settings(max_examples=40, deadline=None)
@given(histories(), st.integers(5, 120))
def test_no_label_and_no_feature_sees_across_a_boundary(evts: list[Event], horizon_min: int) -> None:
    H = horizon_min * MIN
    split = CalendarSplit.from_times([e.ts for e in evts], H, val_days=1, test_days=1, min_day_fraction=0.0)
    parts = build_examples(evts, split=split, horizon_ms=H)
    for name, ex in parts.items():
        lo, hi = split.bounds(name)
        assert all(lo <= t < hi for t in ex.moment_ts)  # no moment in an embargo
        for g, (s, n) in enumerate(zip(ex.group_starts(), ex.sizes)):
            m, k, user = ex.moment_ts[g], ex.moment_index[g], ex.users[g]
            for r in range(s, s + n):
                bought = any(
                    j > k
                    and e.type == "transaction"
                    and e.user_id == user
                    and e.item_id == ex.items[r]
                    and m < e.ts <= m + H
                    and e.ts < hi
                    for j, e in enumerate(evts)
                )
                assert ex.y[r] == bought  # the label window is cut at the part's end
    # what happens after a boundary changes nothing before it, features and labels alike
    for name, boundary in (("train", split.val_start), ("val", split.test_start)):
        before = build_examples([e for e in evts if e.ts < boundary], split=split, horizon_ms=H)[name]
        after = parts[name]
        np.testing.assert_array_equal(before.U, after.U)
        np.testing.assert_array_equal(before.I, after.I)
        np.testing.assert_array_equal(before.y, after.y)
