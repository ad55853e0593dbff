"""Early stopping on a smoothed validation curve, shared by every network we train.

A validation PR-AUC over a few hundred positives jumps from epoch to epoch (the ResNet's
on Taobao: 0.0115 ... 0.0228 ... 0.0142), so the best raw epoch is often a lucky pass,
not a better network. Each epoch is judged by the **median of its score and its
neighbours'** (a window of ``window`` epochs, centred; truncated at the ends), and the
weights kept for a window are those of the epoch whose own score is that median: the
network the smoothed figure describes, never a lone spike. Training stops once
``patience`` judged epochs in a row did not beat the best smoothed score by
``min_delta``; an epoch is judged when the epochs after it in its window are in, and the
last ones when :meth:`EarlyStopping.restore` is called.

>>> import torch
>>> net = torch.nn.Linear(1, 1)
>>> stop = EarlyStopping(net, patience=2)
>>> [stop.update(s) for s in (0.10, 0.12, 0.30, 0.13, 0.11, 0.12)]   # 0.30 is a lone spike
[False, False, False, False, False, True]
>>> _ = stop.restore()
>>> stop.best_epoch, stop.best                 # epoch 3 (0-based): 0.13, its window's median
(3, 0.13)
>>> stop.smoothed
[0.11, 0.12, 0.13, 0.13, 0.12, 0.115]
"""

from __future__ import annotations

import copy
from collections import deque
from typing import Any, Generic, TypeVar

import numpy as np
from torch import nn

M = TypeVar("M", bound=nn.Module)

__all__ = ["EarlyStopping"]


class EarlyStopping(Generic[M]):
    """See the module docstring. ``update(score, payload)`` records an epoch (``payload``:
    anything to keep with the epoch's weights, e.g. its validation scores) and says
    whether to stop; :meth:`restore` returns the model with the kept weights."""

    def __init__(self, model: M, patience: int, window: int = 3, min_delta: float = 1e-5) -> None:
        if window < 1 or window % 2 == 0:
            raise ValueError(f"window must be odd and positive, got {window}")
        self.model, self.patience, self.window, self.min_delta = model, patience, window, min_delta
        self.half = window // 2
        self.raw: list[float] = []
        self.smoothed: list[float] = []
        self.best = float("-inf")
        self.best_epoch = -1
        self.state: dict[str, Any] = copy.deepcopy(model.state_dict())
        self.payload: Any = None
        self.stale = 0
        # the last ``window`` epochs' weights and payloads, by epoch
        self.recent: deque[tuple[int, dict[str, Any], Any]] = deque(maxlen=window)

    def update(self, score: float, payload: Any = None) -> bool:
        """Record an epoch's score; True when training should stop."""
        self.raw.append(float(score))
        self.recent.append((len(self.raw) - 1, copy.deepcopy(self.model.state_dict()), payload))
        if len(self.raw) > self.half:
            self._judge(len(self.raw) - 1 - self.half)
        return self.stale >= self.patience

    def _judge(self, epoch: int) -> None:
        lo, hi = max(0, epoch - self.half), min(len(self.raw), epoch + self.half + 1)
        scores = self.raw[lo:hi]
        median = float(np.median(scores))
        self.smoothed.append(round(median, 6))
        if median > self.best + self.min_delta:
            # the window's epoch whose score is nearest its median (ties: the lower score)
            at = min(range(lo, hi), key=lambda e: (abs(self.raw[e] - median), self.raw[e]))
            kept = next(r for r in self.recent if r[0] == at)
            self.best, self.best_epoch, self.stale = round(median, 6), at, 0
            self.state, self.payload = copy.deepcopy(kept[1]), kept[2]
        else:
            self.stale += 1

    def restore(self) -> M:
        """Judge the epochs still waiting for their neighbours; the model with the kept
        weights, in eval mode."""
        for epoch in range(len(self.smoothed), len(self.raw)):
            self._judge(epoch)
        self.model.load_state_dict(self.state)
        return self.model.eval()
