"""The model interface the worker depends on: batches of (U, I) in, probabilities out.

Rows come grouped: ``sizes[g]`` consecutive rows belong to one user at one moment
(the user's candidate items, most recent first), which is what the ResNet branch
scores as its catalogue.

>>> import numpy as np
>>> class Half:
...     model_version = "const"
...     def score(self, U, I, sizes):
...         p = np.full(len(U), 0.5, dtype=np.float32)
...         return Scores(p, p, p)
>>> Half().score(np.zeros((3, 150)), np.zeros((3, 120)), [3]).probability.tolist()
[0.5, 0.5, 0.5]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["Scores", "Scorer"]


@dataclass(frozen=True)
class Scores:
    """Fused probability and the two components, one entry per row; with shadow scoring
    (:class:`models.shadow.ShadowScorer`), the challenger's scores of the same rows and
    the seconds they took."""

    probability: np.ndarray
    resnet: np.ndarray
    forest: np.ndarray
    challenger: Scores | None = None
    challenger_s: float = 0.0


class Scorer(Protocol):
    """Scores batches; the threshold its intents are held to is not its business (the
    worker's serving policy, :mod:`stream.processing.policy`, resolves it once per model)."""

    model_version: str

    def score(self, U: np.ndarray, I: np.ndarray, sizes: Sequence[int]) -> Scores: ...
