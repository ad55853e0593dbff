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


def test_validation_rows_see_the_training_graph_only(network_data, synthetic_graph, synthetic_parts) -> None:
    """Every neighbour a validation row reads is an edge of the training period."""
    va = synthetic_parts["val"]
    groups = va.row_group()
    at = va.moment_ts[groups]
    for side, adj in (("user", synthetic_graph.by_user), ("item", synthetic_graph.by_item)):
        mask = network_data.val[f"{side}_nbr_mask"].numpy()
        ages = network_data.val[f"{side}_nbr_age"].numpy()
        assert mask.any()
        # an edge's age is at least the time from the validation start (where the graph stops)
        min_age = np.log1p((at - synthetic_graph.cutoff) / 60_000.0)
        assert np.all(ages[mask] >= np.repeat(min_age[:, None], mask.shape[1], 1)[mask] - 1e-5)
        assert adj.ts.max() < synthetic_graph.cutoff
