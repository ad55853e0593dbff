"""A modern reference: LSTM with attention over the user's recent actions.

Each row's sequence holds the user's last actions (type, whether it touched this
candidate item or its category, minutes ago; :meth:`ExampleSet.sequences`); the
attention-pooled LSTM state is joined with the robustly scaled [U, I] and a small MLP
outputs P(buy). Related work reports this family (LSTM + multi-head attention) ahead
of LR, SVM and plain LSTM. Trained like the ResNet: AdamW, early stopping on the
validation PR-AUC, seeded.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from models.scaling import RobustScaling
from training.early_stopping import EarlyStopping
from training.examples import ExampleSet
from training.metrics import pr_auc

__all__ = ["AttentionLSTM", "fit_sequence_model", "score_sequence_model"]

CHUNK = 8192


class AttentionLSTM(nn.Module):
    def __init__(self, seq_dim: int, static_dim: int, hidden: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.lstm = nn.LSTM(seq_dim, hidden, batch_first=True)
        self.attn = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.query = nn.Parameter(torch.zeros(1, 1, hidden))
        self.head = nn.Sequential(nn.Linear(hidden + static_dim, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, seq: Tensor, static: Tensor) -> Tensor:
        h, _ = self.lstm(seq)
        pooled, _ = self.attn(self.query.expand(len(seq), -1, -1), h, h)
        return self.head(torch.cat([pooled[:, 0], static], dim=1)).squeeze(1)


def score_sequence_model(model: AttentionLSTM, scaling: RobustScaling, ex: ExampleSet,
                         rows: np.ndarray | None = None) -> np.ndarray:
    rows = np.arange(ex.n) if rows is None else rows
    out = []
    with torch.inference_mode():
        for start in range(0, len(rows), CHUNK):
            r = rows[start:start + CHUNK]
            s = torch.from_numpy(ex.sequences(r))
            x = torch.from_numpy(scaling.apply(ex.X(r)))
            out.append(torch.sigmoid(model(s, x)).numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def fit_sequence_model(
    train: ExampleSet, rows: np.ndarray, val: ExampleSet, max_epochs: int = 15, patience: int = 3,
    seed: int = 0, log: Callable[[str], None] | None = None, X: np.ndarray | None = None,
) -> tuple[AttentionLSTM, RobustScaling, list[float]]:
    """Fit on ``rows`` of ``train`` (``X``: their ``[U, I]``, when the caller has built it);
    returns the best model by validation PR-AUC, its input scaling and the validation curve."""
    torch.manual_seed(seed)
    X = train.X(rows) if X is None else X
    scaling = RobustScaling.fit(X)
    S = torch.from_numpy(train.sequences(rows))
    xs = torch.from_numpy(scaling.apply(X))
    Y = torch.from_numpy(train.y[rows].astype(np.float32))
    model = AttentionLSTM(S.shape[2], xs.shape[1])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    pos = max(float(Y.sum()), 1.0)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(((len(Y) - pos) / pos) ** 0.5))
    gen = torch.Generator().manual_seed(seed)
    curve: list[float] = []
    stop = EarlyStopping(model, patience)
    for epoch in range(max_epochs):
        model.train()
        for idx in torch.randperm(len(Y), generator=gen).split(512):
            opt.zero_grad()
            loss = loss_fn(model(S[idx], xs[idx]), Y[idx])
            loss.backward()
            opt.step()
        model.eval()
        score = pr_auc(val.y, score_sequence_model(model, scaling, val)) if val.y.any() else 0.0
        curve.append(round(score, 5))
        if log is not None:
            log(f"    lstm_attention epoch {epoch + 1}: validation PR-AUC {score:.4f}")
        if stop.update(score):
            break
    return stop.restore(), scaling, curve
