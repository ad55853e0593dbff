"""The reference networks fitted and scored on the pipeline's parts, inputs built once.

:class:`NetworkData` holds what every network of every seed trains on: the training
rows' inputs (and their sample weights) and the whole validation part's, built once from
the arrays the pipeline already has (the tabular rows' [U, I], their sequences) and the
interaction graph grown through every part. :func:`fit_and_score` trains one network
(:func:`training.fitting.networks.loop.fit_network`) and scores each judged part (the
test days, their cold replay) a chunk at a time, timing the test days: the microseconds
per pair the report gives are those of building a pair's inputs and scoring it in a batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.fitting.networks.inputs import NetworkDims, NetworkInputs
from training.fitting.networks.interaction_graph import InteractionGraph
from training.fitting.networks.loop import FittedNetwork, Inputs, fit_network, score_rows
from training.fitting.networks.registry import NETWORKS, input_keys
from training.protocol.examples import ExampleSet

__all__ = ["NetworkData", "NetworkResult", "fit_and_score"]


@dataclass
class NetworkData:
    """The training rows' and the validation part's inputs of every network."""

    inputs: NetworkInputs
    dims: NetworkDims
    train: Inputs
    val: Inputs
    w: np.ndarray | None = None  # the training rows' sample weights (None: 1)

    @classmethod
    def build(
        cls,
        tr: ExampleSet,
        rows: np.ndarray,
        X_rows: np.ndarray,
        va: ExampleSet,
        graph: InteractionGraph,
        w: np.ndarray | None = None,
    ) -> NetworkData:
        """``X_rows``: the [U, I] of ``rows`` of ``tr`` (the scaling is fitted on it);
        ``w``: their sample weights."""
        inputs = NetworkInputs.fit(X_rows, graph)
        keys = input_keys(NETWORKS)
        return cls(
            inputs,
            inputs.dims(tr),
            inputs.build(tr, rows, keys, X_rows),
            inputs.build(va, np.arange(va.n), keys),
            w,
        )


@dataclass
class NetworkResult:
    fit: FittedNetwork
    scores: list[np.ndarray]  # P(buy) of every row of each judged part
    test_s: float  # seconds to build the first part's inputs and score them

    @property
    def test(self) -> np.ndarray:
        return self.scores[0]


def fit_and_score(
    name: str,
    data: NetworkData,
    y: np.ndarray,
    y_val: np.ndarray,
    judged: list[ExampleSet],
    max_epochs: int,
    patience: int,
    seed: int,
    log: Callable[[str], None] | None = None,
) -> NetworkResult:
    """Fit the network ``name`` of :data:`training.fitting.networks.NETWORKS` and score
    every part of ``judged`` (the first timed)."""
    spec = NETWORKS[name]
    fit = fit_network(
        lambda: spec.make(data.dims),
        data.train,
        y,
        data.val,
        y_val,
        max_epochs=max_epochs,
        patience=patience,
        seed=seed,
        name=name,
        log=log,
        w=data.w,
    )
    scores, test_s = [], 0.0
    for ex in judged:
        t = time.time()
        scores.append(score_rows(fit.model, lambda r: data.inputs.build(ex, r, spec.inputs), ex.n))  # noqa: B023
        test_s = test_s or time.time() - t
    return NetworkResult(fit, scores, test_s)
