"""The shared loop: the kept network is the best epoch of the smoothed curve, its validation
scores are that network's, sample weights weigh the loss, and chunked scoring equals scoring
at once."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from training.fitting.networks.loop import fit_network, predict, score_rows


class Tiny(nn.Module):
    inputs = ("static",)

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Linear(3, 1)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.w(batch["static"]).squeeze(1)


def _data(n: int = 800, seed: int = 0) -> tuple[dict[str, torch.Tensor], np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=n) > 1.0).astype(np.int8)
    return {"static": torch.from_numpy(x)}, y


def test_the_best_smoothed_epoch_is_kept_with_its_validation_scores() -> None:
    train, y = _data()
    val, y_val = _data(seed=1)
    fit = fit_network(Tiny, train, y, val, y_val, max_epochs=6, patience=2, seed=3, lr=0.05, batch=64)
    assert 1 <= fit.epochs == len(fit.curve) == len(fit.smoothed) <= 6
    np.testing.assert_array_equal(fit.val_scores, predict(fit.model, val))
    from training.protocol.metrics import pr_auc

    # the kept epoch's own score is the best smoothed score (its window's median)
    assert round(pr_auc(y_val, fit.val_scores), 5) == fit.curve[fit.best_epoch]
    assert round(fit.curve[fit.best_epoch], 4) == round(max(fit.smoothed), 4)
    assert not fit.model.training


def test_row_weights_weigh_the_loss() -> None:
    """Weight 0 on every positive but one leaves the network a different one; weights of 1
    are the unweighted fit."""
    train, y = _data()
    val, y_val = _data(seed=1)
    kw = dict(max_epochs=2, patience=2, seed=3, lr=0.05, batch=64)
    plain = fit_network(Tiny, train, y, val, y_val, **kw)
    ones = fit_network(Tiny, train, y, val, y_val, w=np.ones(len(y)), **kw)
    np.testing.assert_allclose(ones.val_scores, plain.val_scores, rtol=1e-5)
    w = np.where(y == 1, 0.0, 1.0)
    w[np.flatnonzero(y)[0]] = 1.0
    skewed = fit_network(Tiny, train, y, val, y_val, w=w, **kw)
    assert not np.allclose(skewed.val_scores, plain.val_scores, rtol=1e-3)


def test_chunked_scoring_is_scoring_at_once() -> None:
    val, _ = _data(n=1000)
    torch.manual_seed(0)
    net = Tiny()
    whole = predict(net, val)
    chunked = score_rows(net, lambda rows: {"static": val["static"][torch.from_numpy(rows)]}, 1000, chunk=300)
    np.testing.assert_allclose(chunked, whole, rtol=1e-6)
    assert predict(net, val, chunk=7).shape == (1000,)
