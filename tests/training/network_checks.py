"""The checks every reference network passes (each network's test module runs them on
the synthetic parts of ``conftest.py``)."""

from __future__ import annotations

import numpy as np
import torch

from training.examples import ExampleSet
from training.fit_networks import NetworkData, fit_and_score
from training.interaction_graph import InteractionGraph
from training.network_training import fit_network, take
from training.networks import NETWORKS


def network_data(parts: dict[str, ExampleSet], graph: InteractionGraph) -> NetworkData:
    tr = parts["train"]
    rows = np.arange(tr.n)
    return NetworkData.build(tr, rows, tr.X(rows), parts["val"], graph)


def check_shapes(name: str, data: NetworkData) -> None:
    """One logit per row, for a batch of the inputs the network declares."""
    net = NETWORKS[name].make(data.dims)
    assert set(net.inputs) <= set(data.val)
    out = net(take({k: data.val[k] for k in net.inputs}, slice(0, 7)))
    assert out.shape == (7,) and out.dtype == torch.float32


def check_reproducible(name: str, data: NetworkData, parts: dict[str, ExampleSet]) -> None:
    """The same seed gives the same network; another seed another one."""
    y, y_val = parts["train"].y, parts["val"].y

    def fit(seed: int) -> np.ndarray:
        return fit_network(
            lambda: NETWORKS[name].make(data.dims), data.train, y, data.val, y_val, max_epochs=1, seed=seed
        ).val_scores

    a, b, c = fit(0), fit(0), fit(1)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def check_fits(name: str, data: NetworkData, parts: dict[str, ExampleSet]) -> None:
    """On a set with a signal (a cart is bought 3 minutes later), the network ranks the
    validation positives well above chance, and scores every test row."""
    tr, va, te = parts["train"], parts["val"], parts["test"]
    res = fit_and_score(name, data, tr.y, va.y, te, max_epochs=6, patience=2, seed=0)
    assert max(res.fit.curve) > 3 * va.y.mean(), res.fit.curve
    assert res.test.shape == (te.n,) and np.all((res.test >= 0) & (res.test <= 1))
    assert res.test_s > 0 and res.fit.seconds > 0
