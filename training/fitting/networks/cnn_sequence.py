"""A 1-D convolutional network over the user's recent actions.

Two convolutions of width 3 slide over the last actions (type, same item, same
category, minutes ago: :meth:`training.protocol.examples.ExampleSet.sequences`), so a filter
sees short patterns such as "viewed, carted, viewed again"; max pooling over time
keeps each pattern's strongest match wherever it happened. The pooled vector is joined
with the scaled [U, I] by the same head as the other reference networks, so that it
differs from ``lstm`` and ``lstm_attention`` only in its encoder. Trained like every
reference network (:mod:`training.fitting.networks.loop`).

>>> import torch
>>> net = SequenceCNN(seq_dim=9, static_dim=5)
>>> net({"seq": torch.zeros(3, 20, 9), "static": torch.zeros(3, 5)}).shape
torch.Size([3])
"""

from __future__ import annotations

from torch import Tensor, nn

from training.fitting.networks.head import JoinedHead, ReferenceNetwork

__all__ = ["SequenceCNN"]


class SequenceCNN(ReferenceNetwork):
    """conv(3) -> ReLU -> conv(3) -> ReLU -> max over time, joined with [U, I]
    (``cnn_sequence``)."""

    inputs = ("seq", "static")

    def __init__(self, seq_dim: int, static_dim: int, channels: int = 32, width: int = 3) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(seq_dim, channels, width, padding=width // 2),
            nn.ReLU(),
            nn.Conv1d(channels, channels, width, padding=width // 2),
            nn.ReLU(),
        )
        self.head = JoinedHead(channels + static_dim)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        # sequences are (rows, steps, features); Conv1d wants (rows, features, steps)
        h = self.conv(batch["seq"].transpose(1, 2))
        return self.head(h.amax(dim=2), batch["static"])
