"""Fitting and scoring the small networks: one loop, shared by every one of them.

A network here is an ``nn.Module`` whose ``forward`` takes a batch as a dict of tensors
(:data:`Inputs`: ``"static"``, ``"seq"``, the graph's arrays...) and returns one logit
per row; its class attribute ``inputs`` names the keys it reads. Every network is
trained the same way, so that the references differ only in what they are:

* seeded: ``torch.manual_seed(seed)`` before the network is built (its initial
  weights) and a generator of the same seed for the batch order;
* AdamW, batches of 512, binary cross-entropy weighing each row by its sampling weight
  (``w``: how many replayed rows it stands for) and the positives by the square root of
  the (weighted) class ratio;
* after each epoch the validation PR-AUC; the weights kept are those of the best epoch
  on the smoothed curve, and training stops after ``patience`` epochs without a better
  smoothed score, or at ``max_epochs``
  (:class:`training.fitting.early_stopping.EarlyStopping`).

>>> import torch
>>> from torch import nn
>>> from training.fitting.networks.head import ReferenceNetwork
>>> class Linear(ReferenceNetwork):
...     inputs = ("static",)
...     def __init__(self): super().__init__(); self.w = nn.Linear(2, 1)
...     def forward(self, batch): return self.w(batch["static"]).squeeze(1)
>>> rng = np.random.default_rng(0); x = rng.normal(size=(600, 2)).astype(np.float32)
>>> y = (x[:, 0] > 0.5).astype(np.int8)
>>> data = {"static": torch.from_numpy(x)}
>>> fit = fit_network(Linear, data, y, data, y, max_epochs=5, patience=2, seed=0, lr=0.1, batch=64)
>>> max(fit.curve) > 0.9 and len(fit.val_scores) == 600 and 1 <= fit.epochs <= 5
True
>>> again = fit_network(Linear, data, y, data, y, max_epochs=5, patience=2, seed=0, lr=0.1, batch=64)
>>> bool(np.array_equal(fit.val_scores, again.val_scores))   # seeded: the same network
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from training.fitting.early_stopping import EarlyStopping
from training.fitting.networks.head import ReferenceNetwork
from training.protocol.metrics import pr_auc

__all__ = ["Inputs", "FittedNetwork", "fit_network", "predict", "score_rows", "take", "CHUNK"]

#: One batch: a tensor per input name, rows first.
Inputs = dict[str, Tensor]
CHUNK = 8192  # rows per forward pass when scoring (memory, not speed, bounds it)


def take(inputs: Inputs, idx: Tensor | slice) -> Inputs:
    """The rows ``idx`` of every input."""
    return {k: v[idx] for k, v in inputs.items()}


def predict(model: nn.Module, inputs: Inputs, chunk: int = CHUNK) -> np.ndarray:
    """P(buy) of every row of ``inputs`` (the model in eval mode, no gradients)."""
    n = len(next(iter(inputs.values()))) if inputs else 0
    out = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, n, chunk):
            out.append(torch.sigmoid(model(take(inputs, slice(start, start + chunk)))).numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros(0, dtype=np.float32)


def score_rows(
    model: nn.Module, build: Callable[[np.ndarray], Inputs], n_rows: int, chunk: int = 8 * CHUNK
) -> np.ndarray:
    """P(buy) of rows ``0..n_rows-1``, whose inputs ``build(rows)`` makes a chunk at a
    time (a test part's inputs would not fit in memory at once)."""
    out = np.zeros(n_rows, dtype=np.float32)
    for start in range(0, n_rows, chunk):
        rows = np.arange(start, min(start + chunk, n_rows))
        out[rows] = predict(model, build(rows))
    return out


@dataclass
class FittedNetwork:
    """The kept epoch's network and its validation scores, the validation PR-AUC of each
    epoch (raw and smoothed), the kept epoch (0-based) and the seconds the fit took
    (validation passes included)."""

    model: nn.Module
    val_scores: np.ndarray
    curve: list[float]
    seconds: float
    smoothed: list[float]
    best_epoch: int

    @property
    def epochs(self) -> int:
        """Epochs trained."""
        return len(self.curve)


def fit_network(
    build: Callable[[], ReferenceNetwork],
    train: Inputs,
    y: np.ndarray,
    val: Inputs,
    y_val: np.ndarray,
    max_epochs: int = 8,
    patience: int = 3,
    seed: int = 0,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    batch: int = 512,
    name: str = "network",
    log: Callable[[str], None] | None = None,
    w: np.ndarray | None = None,
    val_weights: np.ndarray | None = None,
    full_val: Inputs | None = None,
) -> FittedNetwork:
    """Train ``build()`` on ``train``/``y`` (row weights ``w``, default 1) with early
    stopping on ``val``/``y_val`` (its rows weighing ``val_weights`` in the PR-AUC); see
    the module docstring. The validation scores returned are the kept network's on
    ``full_val`` when given, else on ``val``. Every input holds what the network reads
    (``build().inputs``)."""
    t0 = time.time()
    torch.manual_seed(seed)
    model = build()
    keys = tuple(model.inputs)
    train, val = {k: train[k] for k in keys}, {k: val[k] for k in keys}
    whole = None if full_val is None else {k: full_val[k] for k in keys}
    Y = torch.from_numpy(np.asarray(y, dtype=np.float32))
    W = torch.ones(len(Y)) if w is None else torch.from_numpy(np.asarray(w, dtype=np.float32))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    pos = max(float((W * Y).sum()), 1e-6)
    loss_fn = nn.BCEWithLogitsLoss(
        reduction="none", pos_weight=torch.tensor((max(float(W.sum()) - pos, 0.0) / pos) ** 0.5)
    )
    gen = torch.Generator().manual_seed(seed)
    stop = EarlyStopping(model, patience)
    curve: list[float] = []
    for epoch in range(max_epochs):
        model.train()
        for idx in torch.randperm(len(Y), generator=gen).split(batch):
            opt.zero_grad()
            loss = (loss_fn(model(take(train, idx)), Y[idx]) * W[idx]).sum() / W[idx].sum()
            loss.backward()
            opt.step()
        scores = predict(model, val)
        score = pr_auc(y_val, scores, val_weights) if np.any(y_val) else 0.0
        curve.append(round(score, 5))
        if log is not None:
            log(f"    {name} epoch {epoch + 1}: validation PR-AUC {score:.4f}")
        if stop.update(score, scores):
            break
    model = stop.restore()
    val_scores = stop.payload if whole is None else predict(model, whole)
    return FittedNetwork(model, val_scores, curve, time.time() - t0, stop.smoothed, stop.best_epoch)
