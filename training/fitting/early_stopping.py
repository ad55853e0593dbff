"""Early stopping on a validation score, shared by every network we train.

>>> import torch
>>> net = torch.nn.Linear(1, 1)
>>> stop = EarlyStopping(net, patience=2)
>>> [stop.update(s) for s in (0.1, 0.3, 0.2, 0.25)]   # the best is 0.3; two epochs without it
[False, False, False, True]
>>> stop.best
0.3
"""

from __future__ import annotations

import copy
from typing import Generic, TypeVar

from torch import nn

M = TypeVar("M", bound=nn.Module)

__all__ = ["EarlyStopping"]


class EarlyStopping(Generic[M]):
    """Remembers the weights of the epoch with the best score (higher is better); after
    ``patience`` epochs in a row without a better one, :meth:`update` says stop."""

    def __init__(self, model: M, patience: int, min_delta: float = 1e-5) -> None:
        self.model, self.patience, self.min_delta = model, patience, min_delta
        self.best = float("-inf")
        self.state = copy.deepcopy(model.state_dict())
        self.stale = 0

    def update(self, score: float) -> bool:
        """Record an epoch's score; True when training should stop."""
        if score > self.best + self.min_delta:
            self.best, self.state, self.stale = score, copy.deepcopy(self.model.state_dict()), 0
            return False
        self.stale += 1
        return self.stale >= self.patience

    def restore(self) -> M:
        """The model with the best epoch's weights, in eval mode."""
        self.model.load_state_dict(self.state)
        return self.model.eval()
