"""A modern reference: LSTM with attention over the user's recent actions.

Each row's sequence holds the user's last actions (type, whether it touched this
candidate item or its category, minutes ago); the attention-pooled LSTM state is
joined with [U, I] and a small MLP outputs P(buy). Related work reports this family
(LSTM + multi-head attention) ahead of LR, SVM and plain LSTM.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["AttentionLSTM", "fit_sequence_model"]


class AttentionLSTM(nn.Module):
    def __init__(self, seq_dim: int, static_dim: int, hidden: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.register_buffer("x_mean", torch.zeros(static_dim))
        self.register_buffer("x_std", torch.ones(static_dim))
        self.lstm = nn.LSTM(seq_dim, hidden, batch_first=True)
        self.attn = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.query = nn.Parameter(torch.zeros(1, 1, hidden))
        self.head = nn.Sequential(
            nn.Linear(hidden + static_dim, 64), nn.ReLU(), nn.Linear(64, 1)
        )

    def forward(self, seq: Tensor, static: Tensor) -> Tensor:
        h, _ = self.lstm(seq)
        pooled, _ = self.attn(self.query.expand(len(seq), -1, -1), h, h)
        x = (static - self.x_mean) / self.x_std
        return self.head(torch.cat([pooled[:, 0], x], dim=1)).squeeze(1)


def fit_sequence_model(
    seq: np.ndarray, static: np.ndarray, y: np.ndarray, epochs: int = 5, seed: int = 0
) -> AttentionLSTM:
    torch.manual_seed(seed)
    model = AttentionLSTM(seq.shape[2], static.shape[1])
    xs = torch.from_numpy(static)
    model.x_mean.copy_(xs.mean(0))
    model.x_std.copy_(xs.std(0).clamp_min(1e-3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    pos = max(float(y.sum()), 1.0)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - pos) / pos) ** 0.5)
    S, Y = torch.from_numpy(seq), torch.from_numpy(y.astype(np.float32))
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(Y), generator=gen).split(512):
            opt.zero_grad()
            loss = loss_fn(model(S[idx], xs[idx]), Y[idx])
            loss.backward()
            opt.step()
    return model.eval()


def score_sequence_model(model: AttentionLSTM, seq: np.ndarray, static: np.ndarray) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for start in range(0, len(seq), 4096):
            s = torch.from_numpy(seq[start : start + 4096])
            x = torch.from_numpy(static[start : start + 4096])
            out.append(torch.sigmoid(model(s, x)).numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
