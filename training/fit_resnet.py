"""Training loop of the ResNet branch on grouped examples (one group = one catalogue)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.fusion import group_tensors
from models.resnet import PurchaseResNet
from training.examples import ExampleSet

__all__ = ["fit_resnet"]


def fit_resnet(
    ex: ExampleSet, n_items: int, epochs: int = 8, batch: int = 512, lr: float = 1e-3,
    seed: int = 0, progress: bool = False, **net_kwargs: int,
) -> tuple[PurchaseResNet, list[float]]:
    """Fit on every group of ``ex``; returns the net and the per-step loss curve."""
    torch.manual_seed(seed)
    net = PurchaseResNet(ex.U.shape[1], ex.I.shape[1], n_items, **net_kwargs)
    net.fit_normalisation(torch.from_numpy(ex.U), torch.from_numpy(ex.I))
    users, items, mask, flat, rows = group_tensors(ex.U, ex.I, ex.sizes, n_items)
    labels = torch.zeros(len(ex.sizes) * n_items)
    labels[torch.from_numpy(flat)] = torch.from_numpy(ex.y[rows].astype(np.float32))
    labels = labels.view(len(ex.sizes), n_items)
    pos = max(float(ex.y.sum()), 1.0)
    # sqrt of the class ratio: enough weight on rare buyers without wrecking calibration
    loss_fn = nn.BCEWithLogitsLoss(reduction="none",
                                   pos_weight=torch.tensor(((len(ex.y) - pos) / pos) ** 0.5))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    steps = range(epochs)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc="resnet epochs", unit="epoch")
    net.train()
    for _ in steps:
        for idx in torch.randperm(len(users), generator=gen).split(batch):
            if len(idx) < 2:  # batch norm needs two samples
                continue
            opt.zero_grad()
            logits = net(users[idx], items[idx], mask[idx])
            m = mask[idx].float()
            loss = (loss_fn(logits, labels[idx]) * m).sum() / m.sum()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    return net.eval(), losses
