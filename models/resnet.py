"""The residual-network branch P_r of the paper (see ``../shared/docs/model.md``).

Read :class:`PurchaseResNet.forward` top to bottom as the paper's diagram::

    U -> Net1 -> k x k map -> ResNet1 -> alpha          (how this user weighs item features)
    s_j = alpha . phi(I_j) for each item of the catalogue
    s -> Net2 -> k2 x k2 map -> ResNet2 -> n logits (+ s) -> sigmoid

Two changes to the paper, each made because the plain version measurably failed:

* **phi, a small network shared by every catalogue slot**, sits between I_j and the dot
  product. With ``s_j = alpha . I_j`` an item's score is linear in its features for a
  given user, so "carted an hour ago and not bought" cannot be told from its parts, and
  the whole network scored no better than that linear score alone. phi's weights are
  the same for every slot, so it learns what an item is, not where it sits.
* **Robust input scaling** (:mod:`models.scaling`): each feature is clipped to its
  training 0.1%-99.9% quantiles before standardisation, and the result to +-5.
  Standardising with a tiny floor on the deviation turned features that are rare in
  training into values up to 1,000 on later days.

The paper's catalogue is 30,000 items; a dense Net2 that wide does not fit a CPU. Our
catalogue is the user's candidate set: the ``n_items`` items of
:meth:`~stream.domain.state.UserState.candidates` (open carts, then the most recently
touched; 32 by default), in that order, padded and masked. Every pair we score is in
that catalogue by construction, so no item is "outside" it. An identity shortcut adds
``s`` to the final logits, the same F(x) = f(x) + x idea one level up.

CPU defaults (paper in brackets): k = 16 [64], k2 = 8 [128], 16 channels, 2 residual
units per ResNet [2], 3x3 kernels, stride 1 [same], phi with 64 hidden units [none].

>>> import torch
>>> net = PurchaseResNet(user_dim=150, item_dim=120, n_items=16).eval()
>>> u, items = torch.zeros(2, 150), torch.zeros(2, 16, 120)
>>> mask = torch.ones(2, 16, dtype=torch.bool)
>>> net(u, items, mask).shape
torch.Size([2, 16])
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from models.scaling import RobustScaling

__all__ = ["BasicBlock", "ResidualStack", "PurchaseResNet", "RobustScaler"]


class BasicBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, add the identity, ReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResidualStack(nn.Module):
    """A k x k single-channel map -> stem conv -> residual units -> linear to ``out_dim``."""

    def __init__(self, k: int, channels: int, blocks: int, out_dim: int) -> None:
        super().__init__()
        self.k = k
        self.stem = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.layer = nn.Sequential(*[BasicBlock(channels) for _ in range(blocks)])
        self.pool = nn.AdaptiveAvgPool2d(max(k // 2, 1))
        self.fc = nn.Linear(channels * max(k // 2, 1) ** 2, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        x = x.view(x.shape[0], 1, self.k, self.k)
        x = self.layer(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class RobustScaler(nn.Module):
    """:class:`~models.scaling.RobustScaling` as a layer of the network (so the traced
    graph carries it); fitted by :meth:`fit`."""

    # buffers (registered in __init__, so they travel with state_dict and the traced graph)
    lo: Tensor
    hi: Tensor
    mean: Tensor
    std: Tensor

    def __init__(self, dim: int, bound: float = 5.0) -> None:
        super().__init__()
        self.bound = bound
        self.register_buffer("lo", torch.full((dim,), -torch.inf))
        self.register_buffer("hi", torch.full((dim,), torch.inf))
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def fit(self, x: Tensor) -> None:
        s = RobustScaling.fit(x.numpy(), bound=self.bound)
        for name in ("lo", "hi", "mean", "std"):
            getattr(self, name).copy_(torch.from_numpy(getattr(s, name)))

    def forward(self, x: Tensor) -> Tensor:
        x = torch.maximum(torch.minimum(x, self.hi), self.lo)
        return ((x - self.mean) / self.std).clamp(-self.bound, self.bound)


class PurchaseResNet(nn.Module):
    """Net1 / ResNet1 / catalogue scores / Net2 / ResNet2, returning per-item logits."""

    config: dict[str, Any]

    def __init__(
        self,
        user_dim: int = 150,
        item_dim: int = 120,
        n_items: int = 32,
        k: int = 16,
        k2: int = 8,
        channels: int = 16,
        blocks: int = 2,
        item_hidden: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.config = dict(
            user_dim=user_dim,
            item_dim=item_dim,
            n_items=n_items,
            k=k,
            k2=k2,
            channels=channels,
            blocks=blocks,
            item_hidden=item_hidden,
            dropout=dropout,
        )
        self.user_scale = RobustScaler(user_dim)
        self.item_scale = RobustScaler(item_dim)
        self.net1 = nn.Sequential(nn.Dropout(dropout), nn.Linear(user_dim, k * k), nn.ReLU(inplace=True))
        self.resnet1 = ResidualStack(k, channels, blocks, out_dim=item_hidden)
        self.phi = nn.Sequential(
            nn.Linear(item_dim, item_hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(item_hidden, item_hidden),
        )
        self.net2 = nn.Sequential(nn.Linear(n_items, k2 * k2), nn.ReLU(inplace=True))
        self.resnet2 = ResidualStack(k2, channels, blocks, out_dim=n_items)

    def fit_scaling(self, users: Tensor, items: Tensor) -> None:
        """Fit the input scaling on training rows (n, user_dim), (n, item_dim)."""
        self.user_scale.fit(users)
        self.item_scale.fit(items)

    def forward(self, user: Tensor, items: Tensor, mask: Tensor) -> Tensor:
        """``user`` (b, user_dim), ``items`` (b, n, item_dim), ``mask`` (b, n) -> logits (b, n)."""
        alpha = self.resnet1(self.net1(self.user_scale(user)))  # (b, h)
        phi = self.phi(self.item_scale(items))  # (b, n, h), the same network for every slot
        s = torch.einsum("bh,bnh->bn", alpha, phi) / phi.shape[-1] ** 0.5
        s = s.masked_fill(~mask, 0.0)
        logits = self.resnet2(self.net2(s)) + s
        return logits.masked_fill(~mask, -30.0)
