"""The simplest neural propensity model: a multilayer perceptron over [U, I].

The user and item vectors (robustly scaled, :mod:`models.scaling`) go through two
hidden layers to one logit; its sigmoid is P(buy). No sequence, no graph: what a
network makes of the same rows the tabular baselines see. Trained like every
reference network (:mod:`training.fitting.networks.loop`).

>>> import torch
>>> net = PropensityMLP(static_dim=5)
>>> net({"static": torch.zeros(3, 5)}).shape
torch.Size([3])
"""

from __future__ import annotations

from torch import Tensor, nn

from training.fitting.networks.head import JoinedHead, ReferenceNetwork

__all__ = ["PropensityMLP"]


class PropensityMLP(ReferenceNetwork):
    """[U, I] -> Linear -> ReLU -> dropout -> the shared head (``mlp``)."""

    inputs = ("static",)

    def __init__(self, static_dim: int, hidden: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        # dropout: 270 inputs, a few thousand positives; the first layer is where it overfits
        self.body = nn.Sequential(nn.Linear(static_dim, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.head = JoinedHead(hidden)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.head(self.body(batch["static"]))
