"""The networks' inputs: one scaling for all, sequences and graph arrays per row, and
only the keys asked for."""

from __future__ import annotations

import numpy as np
import pytest

from training.fitting.networks.inputs import NetworkInputs
from training.fitting.networks.interaction_graph import GRAPH_KEYS
from training.protocol.examples import SEQ_DIM, SEQ_LEN


def test_only_the_keys_asked_for(synthetic_parts, synthetic_graph) -> None:
    tr = synthetic_parts["train"]
    inputs = NetworkInputs.fit(tr.X(), synthetic_graph)
    rows = np.arange(0, tr.n, 3)
    assert set(inputs.build(tr, rows, ("static",))) == {"static"}
    every = inputs.build(tr, rows, ("static", "seq", *GRAPH_KEYS))
    assert set(every) == {"static", "seq", *GRAPH_KEYS}
    assert tuple(every["seq"].shape) == (len(rows), SEQ_LEN, SEQ_DIM)
    assert all(len(v) == len(rows) for v in every.values())
    # the [U, I] the caller already has gives the same rows
    np.testing.assert_array_equal(inputs.build(tr, rows, ("static",), tr.X(rows))["static"], every["static"])
    dims = inputs.dims(tr)
    assert (dims.seq, dims.static) == (SEQ_DIM, tr.X(rows[:1]).shape[1])
    assert (dims.users, dims.items) == (synthetic_graph.n_users, synthetic_graph.n_items)


def test_a_training_row_reads_the_graph_as_of_its_moment(synthetic_parts, synthetic_graph) -> None:
    tr = synthetic_parts["train"]
    rows = np.arange(tr.n)
    a = NetworkInputs.fit(tr.X(), synthetic_graph).build(tr, rows, GRAPH_KEYS)
    at = tr.moment_ts[tr.row_group()]
    for side, adj, key in (
        ("user", synthetic_graph.by_user, "user_nbr"),
        ("item", synthetic_graph.by_item, "item_nbr"),
    ):
        pos, mask, _ = adj.recent(
            synthetic_graph.index(
                [tr.users[g] for g in tr.row_group()] if side == "user" else tr.items, side
            ),
            at,
            16 if side == "user" else 8,
        )
        assert np.array_equal(mask, a[f"{key}_mask"].numpy())
        assert np.all(adj.ts[pos][mask] < np.broadcast_to(at[:, None], mask.shape)[mask])


def test_a_graph_network_needs_a_graph(synthetic_parts) -> None:
    tr = synthetic_parts["train"]
    with pytest.raises(ValueError, match="graph"):
        NetworkInputs.fit(tr.X()).build(tr, np.arange(3), GRAPH_KEYS)
