"""The shared loop: the kept network is the best epoch's, its validation scores are that
network's, and chunked scoring equals scoring at once."""

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


def test_the_best_epoch_is_kept_with_its_validation_scores() -> None:
    train, y = _data()
    val, y_val = _data(seed=1)
    fit = fit_network(Tiny, train, y, val, y_val, max_epochs=6, patience=2, seed=3, lr=0.05, batch=64)
    assert 1 <= len(fit.curve) <= 6
    np.testing.assert_array_equal(fit.val_scores, predict(fit.model, val))
    from training.protocol.metrics import pr_auc

    assert round(pr_auc(y_val, fit.val_scores), 5) == max(fit.curve)
    assert not fit.model.training


def test_chunked_scoring_is_scoring_at_once() -> None:
    val, _ = _data(n=1000)
    torch.manual_seed(0)
    net = Tiny()
    whole = predict(net, val)
    chunked = score_rows(net, lambda rows: {"static": val["static"][torch.from_numpy(rows)]}, 1000, chunk=300)
    np.testing.assert_allclose(chunked, whole, rtol=1e-6)
    assert predict(net, val, chunk=7).shape == (1000,)
