"""A plain LSTM over the user's recent actions.

The LSTM reads the last actions oldest first (:meth:`training.protocol.examples.ExampleSet.sequences`;
sequences are left-padded, so its last step is the most recent action) and its final
state is joined with the scaled [U, I] by the head every reference network shares.
It is ``lstm_attention`` without the attention: the pair measures what attention
pooling adds. Trained like every reference network (:mod:`training.fitting.networks.loop`).

>>> import torch
>>> net = SequenceLSTM(seq_dim=9, static_dim=5)
>>> net({"seq": torch.zeros(3, 20, 9), "static": torch.zeros(3, 5)}).shape
torch.Size([3])
"""

from __future__ import annotations

from torch import Tensor, nn

from training.fitting.networks.head import JoinedHead, ReferenceNetwork

__all__ = ["SequenceLSTM"]


class SequenceLSTM(ReferenceNetwork):
    """LSTM -> final hidden state, joined with [U, I] (``lstm``)."""

    inputs = ("seq", "static")

    def __init__(self, seq_dim: int, static_dim: int, hidden: int = 32) -> None:
        super().__init__()
        self.lstm = nn.LSTM(seq_dim, hidden, batch_first=True)
        self.head = JoinedHead(hidden + static_dim)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        _, (h, _) = self.lstm(batch["seq"])
        return self.head(h[-1], batch["static"])
