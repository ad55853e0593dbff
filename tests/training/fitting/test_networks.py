"""Every reference network (training/networks.py) passes the same checks on the synthetic
parts of ``conftest.py``: it is the registered class, one logit per row, the seed decides
the network, and it learns a synthetic signal. The graph network's own checks are in
``test_graph_attention.py``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.fitting.networks import NETWORKS
from training.fitting.networks.cnn_sequence import SequenceCNN
from training.fitting.networks.fit import NetworkData, fit_and_score
from training.fitting.networks.graph_attention import AttentionLSTMGraph
from training.fitting.networks.loop import fit_network, take
from training.fitting.networks.lstm import SequenceLSTM
from training.fitting.networks.lstm_attention import AttentionLSTM
from training.fitting.networks.mlp import PropensityMLP
from training.protocol.examples import ExampleSet

CLASSES = {
    "mlp": PropensityMLP,
    "cnn_sequence": SequenceCNN,
    "lstm": SequenceLSTM,
    "lstm_attention": AttentionLSTM,
    "lstm_attention_gat": AttentionLSTMGraph,
}
pytestmark = pytest.mark.parametrize("name", list(CLASSES))


def test_it_is_the_registered_network(name: str) -> None:
    assert set(NETWORKS) == set(CLASSES)
    assert NETWORKS[name].cls is CLASSES[name]


def test_one_logit_per_row(name: str, network_data: NetworkData) -> None:
    """One logit per row, for a batch of the inputs the network declares."""
    net = NETWORKS[name].make(network_data.dims)
    assert set(net.inputs) <= set(network_data.val)
    out = net(take({k: network_data.val[k] for k in net.inputs}, slice(0, 7)))
    assert out.shape == (7,) and out.dtype == torch.float32


def test_the_seed_decides_the_network(
    name: str, network_data: NetworkData, synthetic_parts: dict[str, ExampleSet]
) -> None:
    """The same seed gives the same network; another seed another one."""
    y, y_val = synthetic_parts["train"].y, synthetic_parts["val"].y

    def fit(seed: int) -> np.ndarray:
        return fit_network(
            lambda: NETWORKS[name].make(network_data.dims),
            network_data.train,
            y,
            network_data.val,
            y_val,
            max_epochs=1,
            seed=seed,
        ).val_scores

    a, b, c = fit(0), fit(0), fit(1)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_it_learns_a_synthetic_signal(
    name: str, network_data: NetworkData, synthetic_parts: dict[str, ExampleSet]
) -> None:
    """On a set with a signal (a cart is bought 3 minutes later), the network ranks the
    validation positives well above chance, and scores every test row."""
    tr, va, te = synthetic_parts["train"], synthetic_parts["val"], synthetic_parts["test"]
    res = fit_and_score(name, network_data, tr.y, va.y, [te], max_epochs=6, patience=2, seed=0)
    assert max(res.fit.curve) > 3 * va.y.mean(), res.fit.curve
    assert res.test.shape == (te.n,) and np.all((res.test >= 0) & (res.test <= 1))
    assert res.test_s > 0 and res.fit.seconds > 0
