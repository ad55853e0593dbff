"""Point-in-time examples: correct labels on a hand-made history, and no leakage."""
from __future__ import annotations

import numpy as np

from stream.events import Event
from training.examples import build_examples

MIN = 60_000


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
    starts = ex.group_starts()
    for g, (s, n) in enumerate(zip(starts, ex.sizes)):
        for r in range(s, s + n):
            out.append((ex.moment_index[g], ex.users[g], ex.items[r], int(ex.y[r])))
    return out


def test_labels_follow_the_horizon() -> None:
    ex = build_examples(history(), horizon_ms=30 * MIN)
    got = rows(ex)
    # alice buys the pen at 10 min: every earlier moment of hers labels the pen 1, ink 0
    assert (0, "alice", "pen", 1) in got and (1, "alice", "ink", 0) in got and (3, "alice", "pen", 1) in got
    # the purchase moment itself is not its own label
    assert (4, "alice", "pen", 0) in got
    # bob's view at 2 min is 88 min before his purchase: outside the horizon
    assert (2, "bob", "pen", 0) in got and (5, "bob", "pen", 0) in got
    assert ex.purchases == [(4, True), (6, True)]


def test_future_events_never_change_past_features() -> None:
    base = history()
    ex_a = build_examples(base[:4], horizon_ms=30 * MIN)
    ex_b = build_examples(base + [Event("8", "alice", "pen", "view", 91 * MIN, "c2")], horizon_ms=30 * MIN)
    n = ex_a.n
    np.testing.assert_array_equal(ex_a.U, ex_b.U[:n])
    np.testing.assert_array_equal(ex_a.I, ex_b.I[:n])
    np.testing.assert_array_equal(ex_a.seq, ex_b.seq[:n])


def test_same_second_events_form_one_moment() -> None:
    evts = [Event("a", "u", "i", "view", 0), Event("b", "u", "i", "view", 0), Event("c", "u", "j", "view", 1000)]
    ex = build_examples(evts)
    assert list(ex.moment_index) == [1, 2]
