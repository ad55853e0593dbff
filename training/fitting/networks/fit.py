"""The reference networks fitted and scored on the pipeline's parts, inputs built once.

:class:`NetworkData` holds what every network of every seed trains on: the training
rows' inputs and the whole validation part's, built once from the arrays the pipeline
already has (the tabular rows' [U, I], their sequences) and the training period's
interaction graph. :func:`fit_and_score` trains one network
(:func:`training.fitting.networks.loop.fit_network`) and scores the test part a chunk at
a time, timing it: the microseconds per pair the report gives are those of building a
pair's inputs and scoring it in a batch.
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

    @classmethod
    def build(
        cls, tr: ExampleSet, rows: np.ndarray, X_rows: np.ndarray, va: ExampleSet, graph: InteractionGraph
    ) -> NetworkData:
        """``X_rows``: the [U, I] of ``rows`` of ``tr`` (the scaling is fitted on it)."""
        inputs = NetworkInputs.fit(X_rows, graph)
        keys = input_keys(NETWORKS)
        return cls(
            inputs,
            inputs.dims(tr),
            inputs.build(tr, rows, keys, X_rows),
            inputs.build(va, np.arange(va.n), keys),
        )


@dataclass
class NetworkResult:
    fit: FittedNetwork
    test: np.ndarray  # P(buy) of every test row
    test_s: float  # seconds to build the test rows' inputs and score them


def fit_and_score(
    name: str,
    data: NetworkData,
    y: np.ndarray,
    y_val: np.ndarray,
    te: ExampleSet,
    max_epochs: int,
    patience: int,
    seed: int,
    log: Callable[[str], None] | None = None,
) -> NetworkResult:
    """Fit the network ``name`` of :data:`training.fitting.networks.NETWORKS` and score ``te``."""
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
    )
    t = time.time()
    test = score_rows(fit.model, lambda r: data.inputs.build(te, r, spec.inputs), te.n)
    return NetworkResult(fit, test, time.time() - t)
