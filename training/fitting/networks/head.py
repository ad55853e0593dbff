"""The head every reference network ends with: its encodings joined, a small MLP, one logit.

The networks differ in how they encode a row (the [U, I] vectors alone, a sequence
encoder, graph embeddings); they all end the same way, so that a difference between
two of them is their encoder's.

>>> import torch
>>> head = JoinedHead(3 + 2)
>>> head(torch.zeros(4, 3), torch.zeros(4, 2)).shape
torch.Size([4])
"""

from __future__ import annotations

from torch import Tensor, cat, nn

__all__ = ["JoinedHead", "ReferenceNetwork"]


class ReferenceNetwork(nn.Module):
    """A reference network: ``inputs`` names the arrays its ``forward`` takes, in order
    (see :mod:`training.fitting.networks.inputs`)."""

    inputs: tuple[str, ...] = ()


class JoinedHead(nn.Module):
    """Concatenate the parts (each ``(rows, d_k)``, ``in_dim`` = the sum of the ``d_k``),
    then Linear -> ReLU -> Linear to a logit per row."""

    def __init__(self, in_dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, *parts: Tensor) -> Tensor:
        return self.mlp(cat(parts, dim=1)).squeeze(1)
