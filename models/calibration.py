"""Platt scaling: a branch's score mapped to a probability fitted on validation rows.

The two branches are trained differently (the ResNet on whole catalogues with a
positive weight, the forest on user-grouped folds of sampled rows), so their raw
scores live on different scales, and a weighted average of uncalibrated scores
weighs the branches by their scales as much as by ``w_r``. Each branch is calibrated
on the validation split, then fused. Platt's two parameters per branch (a logistic
regression on the score's logit) keep the order of the scores, so a branch's own
ranking metrics do not change.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> p = rng.random(5000); y = (rng.random(5000) < p ** 3).astype(int)   # overconfident scores
>>> cal = PlattCalibrator.fit(p, y)
>>> abs(float(cal(p).mean()) - float(y.mean())) < 0.01   # calibrated: mean matches the rate
True
>>> bool(np.all(np.diff(cal(np.sort(p))) >= 0))   # and the order is kept
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["PlattCalibrator"]

EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class PlattCalibrator:
    """``P = sigmoid(a * logit(score) + b)``; the identity is ``a = 1, b = 0``."""

    a: float = 1.0
    b: float = 0.0

    @classmethod
    def fit(cls, scores: np.ndarray, y: np.ndarray) -> PlattCalibrator:
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(y).astype(int)
        if y.min(initial=1) == y.max(initial=0):
            return cls()  # one class: nothing to fit
        model = LogisticRegression(C=1e4, max_iter=1000).fit(_logit(scores)[:, None], y)
        a = float(model.coef_[0, 0])
        if a <= 0:  # a branch no better than chance on validation: no calibration reverses it
            return cls()
        return cls(a, float(model.intercept_[0]))

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        z = self.a * _logit(scores) + self.b
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)
