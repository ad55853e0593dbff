"""A modern reference: LSTM with attention over the user's recent actions.

Each row's sequence holds the user's last actions (type, whether it touched this
candidate item or its category, minutes ago; :meth:`ExampleSet.sequences`); the
attention-pooled LSTM state is joined with the robustly scaled [U, I] and a small MLP
outputs P(buy). Related work reports this family (LSTM + multi-head attention) ahead
of LR, SVM and plain LSTM. Trained like every reference network
(:mod:`training.fitting.networks.loop`): AdamW, early stopping on the validation PR-AUC,
seeded. The encoder is reused by :mod:`training.fitting.networks.graph_attention`.

>>> import torch
>>> net = AttentionLSTM(seq_dim=9, static_dim=5)
>>> net({"seq": torch.zeros(3, 20, 9), "static": torch.zeros(3, 5)}).shape
torch.Size([3])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from training.fitting.networks.head import JoinedHead, ReferenceNetwork

__all__ = ["AttentionLSTM", "AttentionLSTMEncoder"]


class AttentionLSTMEncoder(nn.Module):
    """An LSTM over the sequence, pooled by multi-head attention from one learned query
    (which steps matter is learned, not assumed to be the last): ``(rows, hidden)``."""

    def __init__(self, seq_dim: int, hidden: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.lstm = nn.LSTM(seq_dim, hidden, batch_first=True)
        self.attn = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.query = nn.Parameter(torch.zeros(1, 1, hidden))
        self.dim = hidden

    def forward(self, seq: Tensor) -> Tensor:
        h, _ = self.lstm(seq)
        # need_weights=False: the same pooling without averaging the heads' weights,
        # which cost as much as the LSTM itself on CPU
        pooled, _ = self.attn(self.query.expand(len(seq), -1, -1), h, h, need_weights=False)
        return pooled[:, 0]


class AttentionLSTM(ReferenceNetwork):
    """:class:`AttentionLSTMEncoder` joined with [U, I] (``lstm_attention``)."""

    inputs = ("seq", "static")

    def __init__(self, seq_dim: int, static_dim: int, hidden: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.encoder = AttentionLSTMEncoder(seq_dim, hidden, heads)
        self.head = JoinedHead(hidden + static_dim)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.head(self.encoder(batch["seq"]), batch["static"])
