"""Robust feature scaling, one definition for every model that needs scaled inputs.

Each feature is clipped to its training ``q`` and ``1 - q`` quantiles, standardised,
and the result clipped to +-``bound``. Plain standardisation with a small floor on the
deviation turned features that are rare in training into values up to 1,000 on later
days (a feature almost always 0 has a deviation near 0); a feature that is constant
after clipping maps to 0.

>>> import numpy as np
>>> X = np.zeros((1000, 2), dtype=np.float32); X[:, 0] = np.arange(1000); X[0, 1] = 50.0
>>> s = RobustScaling.fit(X)
>>> far = np.array([[5000.0, 50.0]], dtype=np.float32)
>>> [round(float(v), 2) for v in s.apply(far)[0]]  # clipped, not exploded
[1.73, 5.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RobustScaling"]


@dataclass(frozen=True)
class RobustScaling:
    lo: np.ndarray
    hi: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    bound: float = 5.0

    @classmethod
    def fit(
        cls, X: np.ndarray, q: float = 0.001, max_rows: int = 200_000, bound: float = 5.0
    ) -> RobustScaling:
        X = np.asarray(X, dtype=np.float32)
        if len(X) > max_rows:  # quantiles of a sample: the same to the precision that matters
            X = X[np.random.default_rng(0).choice(len(X), max_rows, replace=False)]
        lo, hi = np.quantile(X, [q, 1 - q], axis=0)
        clipped = np.clip(X, lo, hi)
        std = clipped.std(axis=0)
        return cls(
            lo.astype(np.float32),
            hi.astype(np.float32),
            clipped.mean(axis=0).astype(np.float32),
            np.where(std > 1e-6, std, 1.0).astype(np.float32),
            bound,
        )

    def apply(self, X: np.ndarray) -> np.ndarray:
        z = (np.clip(np.asarray(X, dtype=np.float32), self.lo, self.hi) - self.mean) / self.std
        return np.clip(z, -self.bound, self.bound).astype(np.float32)
