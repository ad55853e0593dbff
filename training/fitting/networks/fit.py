"""The reference networks fitted and scored on the pipeline's parts, inputs built once.

:class:`NetworkData` holds what every network of every seed trains on: the training
rows' inputs (and their sample weights) and the whole validation part's, built once from
the arrays the pipeline already has (the tabular rows' [U, I], their sequences) and the
interaction graph grown through every part. The epoch-by-epoch stopping reads a fixed
**stopping sample** of validation, the same for every network and seed: every positive
row and a quarter of the others, each of those weighing 4 in the PR-AUC (an estimate of
the whole part's; a validation pass was half of an epoch's time); the kept network's
validation scores are then those of the whole part. :func:`fit_and_score` trains one network
(:func:`training.fitting.networks.loop.fit_network`) and scores each judged part (the
test days, their cold replay) a chunk at a time, timing the test days: the microseconds
per pair the report gives are those of building a pair's inputs and scoring it in a batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from training.fitting.networks.inputs import NetworkDims, NetworkInputs
from training.fitting.networks.interaction_graph import InteractionGraph
from training.fitting.networks.loop import FittedNetwork, Inputs, fit_network, score_rows, take
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
    stop_rows: np.ndarray | None = None  # the stopping sample: validation rows ...
    stop_w: np.ndarray | None = None  # ... and their weights in its PR-AUC

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
        stop_rows, stop_w = stopping_sample(va.y)
        return cls(
            inputs,
            inputs.dims(tr),
            inputs.build(tr, rows, keys, X_rows),
            inputs.build(va, np.arange(va.n), keys),
            w,
            stop_rows,
            stop_w,
        )


def stopping_sample(y: np.ndarray, share: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every positive row and ``share`` of the others (each weighing ``1 / share``), sorted.

    >>> rows, w = stopping_sample(np.r_[np.ones(4), np.zeros(400)], share=0.25)
    >>> int((w == 1).sum()), 90 < int((w == 4).sum()) < 110
    (4, True)
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    keep = (y > 0) | (rng.random(len(y)) < share)
    rows = np.flatnonzero(keep)
    return rows, np.where(y[rows] > 0, 1.0, 1.0 / share).astype(np.float32)


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
    stop = np.arange(len(y_val)) if data.stop_rows is None else data.stop_rows
    fit = fit_network(
        lambda: spec.make(data.dims),
        data.train,
        y,
        take(data.val, torch.from_numpy(stop)),
        np.asarray(y_val)[stop],
        max_epochs=max_epochs,
        patience=patience,
        seed=seed,
        name=name,
        log=log,
        w=data.w,
        val_weights=data.stop_w,
        full_val=data.val,
    )
    scores, test_s = [], 0.0
    for ex in judged:
        t = time.time()
        scores.append(score_rows(fit.model, lambda r: data.inputs.build(ex, r, spec.inputs), ex.n))  # noqa: B023
        test_s = test_s or time.time() - t
    return NetworkResult(fit, scores, test_s)
