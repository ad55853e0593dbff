"""Shadow scoring: the challenger scores the same rows as the champion, in the same call.

A worker with a challenger (``INTENT_CHALLENGER``) serves a :class:`ShadowScorer`: the
champion's scores are what it publishes; the challenger's ride along in
``Scores.challenger``, with the seconds they took (``Scores.challenger_s``: the cost of
shadow scoring, exported per batch). In the scoring process both models live in the
child, so a batch still crosses the pipe once.

>>> import numpy as np
>>> class Const:
...     def __init__(self, p, version): self.p, self.model_version = p, version
...     def score(self, U, I, sizes):
...         p = np.full(len(U), self.p); return Scores(p, p, p)
>>> s = ShadowScorer(Const(0.2, "v1"), Const(0.7, "v2")).score(np.zeros((2, 1)), np.zeros((2, 1)), [2])
>>> s.probability.tolist(), s.challenger.probability.tolist(), s.challenger_s >= 0
([0.2, 0.2], [0.7, 0.7], True)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from models.scorer import Scorer, Scores

__all__ = ["ShadowScorer"]


class ShadowScorer:
    """The champion's :class:`~models.scorer.Scorer` with a challenger beside it."""

    def __init__(self, champion: Scorer, challenger: Scorer) -> None:
        self.champion, self.challenger = champion, challenger
        self.model_version = champion.model_version
        self.challenger_version = challenger.model_version

    def score(self, U: np.ndarray, I: np.ndarray, sizes: Sequence[int]) -> Scores:
        scores = self.champion.score(U, I, sizes)
        began = time.perf_counter()
        shadow = self.challenger.score(U, I, sizes)
        return replace(scores, challenger=shadow, challenger_s=time.perf_counter() - began)
