"""The interaction graph at a moment holds no interaction from at or after it (nor from after
a cutoff, when one is given); nodes without an earlier edge, or first seen after the
training period, are unknown."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.domain.events import EVENT_TYPES, Event
from training.fitting.networks.interaction_graph import GRAPH_KEYS, InteractionGraph

USERS, ITEMS = ("ann", "bob", "cy"), ("pen", "ink", "cap", "mug")


def _events(draw: list[tuple[int, int, int, int]]) -> list[Event]:
    rows = sorted(draw, key=lambda r: r[0])  # replay order: by time
    return [Event(str(k), USERS[u], ITEMS[i], EVENT_TYPES[t], ts) for k, (ts, u, i, t) in enumerate(rows)]


EVENTS = st.lists(
    st.tuples(st.integers(0, 50), st.integers(0, 2), st.integers(0, 3), st.integers(0, 5)), max_size=40
)


@settings(max_examples=80, deadline=None)
@given(EVENTS, st.integers(0, 60), st.integers(0, 60), st.integers(1, 6))
def test_the_graph_at_a_moment_holds_no_interaction_from_after_it(draw, cutoff, at, k) -> None:
    events = _events(draw)
    g = InteractionGraph.from_events(events, known_until=cutoff, cutoff=cutoff)
    for side, names, key in (("user", USERS, "user_id"), ("item", ITEMS, "item_id")):
        other = "item_id" if side == "user" else "user_id"
        for name in names:
            got = g.recent_edges(name, at, k, side)
            assert all(ts < at and ts < cutoff for _, ts, _ in got)
            # exactly the k most recent edges before the moment, oldest first
            before = [
                (getattr(e, other), e.ts, e.type)
                for e in events
                if getattr(e, key) == name and e.ts < min(at, cutoff)
            ]
            assert got == sorted(before, key=lambda r: r[1])[-k:] if before else got == []


def test_the_arrays_a_network_reads_respect_the_moment() -> None:
    ev = [
        Event("1", "ann", "pen", "view", 1_000),
        Event("2", "bob", "pen", "addtocart", 2_000),
        Event("3", "ann", "ink", "view", 5_000),
        Event("4", "cy", "mug", "view", 7_000),
    ]
    g = InteractionGraph.from_events(ev, known_until=6_000)
    users = g.index(["ann", "ann", "bob", "cy"], "user")
    items = g.index(["pen", "ink", "pen", "mug"], "item")
    at = np.array([1_000, 60_000, 2_000, 8_000])
    a = g.inputs(users, items, at, k_user=3, k_item=2)
    assert set(a) == set(GRAPH_KEYS)
    # ann at 1 s: her first edge is at 1 s, so she is not in the graph yet: unknown
    assert a["user"][0] == g.n_users and not a["user_nbr_mask"][0].any()
    # ann a minute later: both her edges, oldest first
    assert a["user"][1] == g.users["ann"]
    assert [int(i) for i in a["user_nbr"][1][a["user_nbr_mask"][1]]] == [g.items["pen"], g.items["ink"]]
    # bob's cart of the pen at 2 s is not in the graph at 2 s: bob unknown, the pen has ann's view only
    assert a["user"][2] == g.n_users and a["item"][2] == g.items["pen"]
    assert [int(u) for u in a["item_nbr"][2][a["item_nbr_mask"][2]]] == [g.users["ann"]]
    # cy and mug came after the training period: no embedding, so unknown; at 8 s, cy's view of
    # the mug at 7 s is an edge (the graph grows through validation and test)
    assert a["user"][3] == g.n_users and a["item"][3] == g.n_items
    assert a["user_nbr_mask"][3].sum() == 1 and (a["user_nbr"][3] == g.n_items).all()
    # ages: log1p of the minutes between the edge and the moment
    np.testing.assert_allclose(a["user_nbr_age"][1][-1], np.log1p((60_000 - 5_000) / 60_000), rtol=1e-6)


def test_an_empty_graph_answers_unknown() -> None:
    g = InteractionGraph.from_events([], known_until=10)
    a = g.inputs(g.index(["ann"], "user"), g.index(["pen"], "item"), np.array([5]))
    assert a["user"][0] == 0 == g.n_users and not a["user_nbr_mask"].any()
