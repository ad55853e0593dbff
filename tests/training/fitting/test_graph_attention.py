"""``lstm_attention_gat`` (training/graph_attention.py): the graph attention layer reads
only unmasked neighbours, unknown nodes share one learned embedding, validation rows see
the training graph only (the checks every network passes: ``test_networks.py``)."""

from __future__ import annotations

import numpy as np
import torch

from training.fitting.networks import NETWORKS
from training.fitting.networks.graph_attention import AttentionLSTMGraph, GraphAttention

NAME = "lstm_attention_gat"


def test_masked_neighbours_change_nothing() -> None:
    torch.manual_seed(0)
    layer = GraphAttention(8, heads=2)
    x, nbrs = torch.randn(4, 8), torch.randn(4, 5, 8)
    types, ages = torch.randint(0, 6, (4, 5)), torch.rand(4, 5)
    mask = torch.tensor([[True, True, False, False, False]] * 4)
    out = layer(x, nbrs, types, ages, mask)
    noise = nbrs.clone()
    noise[:, 2:] = 100.0  # what sits behind the mask
    assert torch.allclose(out, layer(x, noise, types, ages, mask))
    # with no neighbour at all, only the node itself: its own projection
    alone = layer(x, nbrs, types, ages, torch.zeros(4, 5, dtype=torch.bool))
    expected = torch.nn.functional.elu(layer.w_self(x))
    assert torch.allclose(alone, expected, atol=1e-6)


def test_a_node_unknown_at_its_moment_gets_the_unknown_embedding(network_data) -> None:
    net = NETWORKS[NAME].make(network_data.dims).eval()
    assert isinstance(net, AttentionLSTMGraph)
    users, items = network_data.train["user"], network_data.train["item"]
    # the first moments of a user have no edge before them: unknown, index n_users
    assert (users == network_data.dims.users).any() and (users < network_data.dims.users).any()
    assert (items == network_data.dims.items).any() and (items < network_data.dims.items).any()
    assert int(users.max()) <= network_data.dims.users and int(items.max()) <= network_data.dims.items


def test_node_dropout_only_while_training() -> None:
    net = AttentionLSTMGraph(seq_dim=9, static_dim=3, n_users=5, n_items=5, node_dropout=1.0)
    ids = torch.tensor([0, 1, 2])
    assert torch.equal(net.train()._nodes(ids, 5), torch.full((3,), 5))
    assert torch.equal(net.eval()._nodes(ids, 5), ids)


def test_a_test_row_sees_the_validation_and_earlier_test_edges_before_its_moment_and_nothing_after(
    synthetic_events_list, synthetic_graph, synthetic_parts
) -> None:
    """The graph grows point-in-time through validation and test, as the features do: a test
    row's user (and item) read exactly the edges before the row's moment, the validation
    period's and the test period's own among them, and none at or after it."""
    from tests.training.conftest import SPLIT

    te = synthetic_parts["test"]
    groups = te.row_group()
    seen_val = seen_test = 0
    for r in range(0, te.n, 7):
        user, at = te.users[groups[r]], int(te.moment_ts[groups[r]])
        got = synthetic_graph.recent_edges(user, at, k=10_000, side="user")
        before = [(e.item_id, e.ts, e.type) for e in synthetic_events_list if e.user_id == user and e.ts < at]
        assert got == sorted(before, key=lambda t: t[1])  # every edge before the moment, nothing after
        seen_val += any(SPLIT.val_start <= ts < SPLIT.test_start for _, ts, _ in got)
        seen_test += any(SPLIT.test_start <= ts for _, ts, _ in got)
        item_edges = synthetic_graph.recent_edges(te.items[r], at, k=10_000, side="item")
        assert all(ts < at for _, ts, _ in item_edges)
    assert seen_val and seen_test
    # the arrays a network reads agree: the newest user edge of each test row is before its moment
    from training.fitting.networks.inputs import NetworkInputs

    inputs = NetworkInputs.fit(te.X(), synthetic_graph).build(te, np.arange(te.n), ("user_nbr_age", "user"))
    mask = inputs["user_nbr_mask"].numpy()
    newest = synthetic_graph.by_user.ts.max()
    assert mask.any() and newest >= SPLIT.test_start  # the graph holds the test period's edges
    assert np.all(inputs["user_nbr_age"].numpy()[mask] >= 0)


def test_a_cold_replay_row_reads_its_user_from_the_reset_on_and_as_unknown(synthetic_graph) -> None:
    from tests.training.conftest import SPLIT

    users = synthetic_graph.index(["u1", "u1"], "user")
    items = synthetic_graph.index(["i1", "i1"], "item")
    at = np.array([SPLIT.end, SPLIT.end])
    since = np.array([-1, SPLIT.test_start])
    a = synthetic_graph.inputs(users, items, at, k_user=10_000, user_since=since)
    ages = a["user_nbr_age"][1][a["user_nbr_mask"][1]]
    assert a["user"][0] == users[0] and a["user"][1] == synthetic_graph.n_users  # new that day: unknown
    assert a["user_nbr_mask"][1].sum() < a["user_nbr_mask"][0].sum()
    assert np.all(ages <= np.log1p((SPLIT.end - SPLIT.test_start) / 60_000.0) + 1e-5)
