"""Cold start: a prior from item and session signals, blended in for users with little history.

A user with fewer than :data:`COLD_EVENTS` events has a mostly empty behavioural U
vector, and both branches were trained mostly on users with history. For those users
the fusion adds a prior that does not need the user's past: a logistic model over

* item priors: the item's popularity and conversion over all users (decayed counts of
  views, carts and buys, buys per view, carts per view, lifetime totals) and the
  user's share of the item's category;
* session signals: how often this user viewed and carted this item, how recently,
  its rank among the user's candidates, and the size and length of the session.

``P = (1 - weight) * P_fused + weight * P_prior`` for cold users, ``P_fused`` otherwise.
Training fits the prior on the cold rows of a **cold replay** of the training days (every
user's state emptied at each day's start, so each user is new that day: thousands of
cold rows where the plain replay of long histories has a few hundred) and chooses
``weight`` on the validation day's cold replay (the PR-AUC of all its rows, cold and warm
users ranked together as the worker ranks them; 0 when the prior does not help), so the
blend is only as strong as the data says. Everything is
plain numbers in the manifest.

>>> import numpy as np
>>> prior = ColdStartPrior(coef=[0.0] * len(ITEM_COLUMNS + USER_COLUMNS), intercept=0.0, weight=0.5)
>>> U = np.zeros((2, 150), dtype=np.float32); U[1, N_EVENTS_COLUMN] = np.log1p(20)
>>> [round(float(p), 3) for p in prior.apply(np.array([0.2, 0.2]), U, np.zeros((2, 120), dtype=np.float32))]
[0.35, 0.2]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from stream.domain.features import ITEM_LAYOUT, USER_LAYOUT
from stream.domain.labels import ACTIVITY_BUCKETS

__all__ = ["COLD_EVENTS", "ColdStartPrior", "fit_cold_start", "is_cold", "N_EVENTS_COLUMN"]

# fewer events than this is cold start (the related study's definition); one definition
# for the live accuracy buckets and the fusion
COLD_EVENTS = dict(ACTIVITY_BUCKETS)["warm"]
N_EVENTS_COLUMN = USER_LAYOUT.index("n_events")  # log1p(events so far)
# I: the user's events on the item, its open cart, recency, touches this session, rank,
# category share; the item's popularity and conversion over all users
ITEM_COLUMNS = ITEM_LAYOUT.columns(
    "ui_counts",
    "ui_open_cart",
    "ui_since_touch",
    "ui_session_touches",
    "rank",
    "uc_share",
    "item_counts",
    "item_totals",
    "item_ratios",
)
# U: the session's size and length
USER_COLUMNS = USER_LAYOUT.columns("session_events", "session_minutes")


def is_cold(U: np.ndarray) -> np.ndarray:
    """Rows whose user has fewer than :data:`COLD_EVENTS` events."""
    return U[:, N_EVENTS_COLUMN] < np.log1p(COLD_EVENTS) - 1e-6


def _design(U: np.ndarray, I: np.ndarray) -> np.ndarray:
    return np.hstack([I[:, ITEM_COLUMNS], U[:, USER_COLUMNS]]).astype(np.float64)


@dataclass
class ColdStartPrior:
    coef: list[float]
    intercept: float
    weight: float
    mean: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)

    def prior(self, U: np.ndarray, I: np.ndarray) -> np.ndarray:
        X = _design(U, I)
        if self.mean:
            X = (X - np.asarray(self.mean)) / np.asarray(self.scale)
        return 1.0 / (1.0 + np.exp(-(X @ np.asarray(self.coef) + self.intercept)))

    def apply(self, p_fused: np.ndarray, U: np.ndarray, I: np.ndarray) -> np.ndarray:
        """The served probability: the blend for cold rows, ``p_fused`` for the rest."""
        out = np.asarray(p_fused, dtype=np.float32).copy()
        cold = is_cold(U)
        if self.weight > 0 and cold.any():
            out[cold] = (1 - self.weight) * out[cold] + self.weight * self.prior(U[cold], I[cold])
        return out

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColdStartPrior:
        return cls(**d)


def fit_cold_start(
    U: np.ndarray,
    I: np.ndarray,
    y: np.ndarray,
    U_val: np.ndarray,
    I_val: np.ndarray,
    y_val: np.ndarray,
    p_val: np.ndarray,
    sample_weight: np.ndarray | None = None,
) -> tuple[ColdStartPrior, list[dict[str, float]]]:
    """Fit the prior on cold training rows (weighed by ``sample_weight``) and choose its
    weight on the validation rows; returns the prior and the weight curve.

    The prior is a plain logistic model, so that it outputs probabilities on the fused
    model's (calibrated) scale, and the weight is chosen by the PR-AUC of **all** the
    validation rows: the served model ranks cold and warm users together, so a blend
    that orders the cold rows among themselves well but lifts them all above the warm
    ones (a prior fitted with balanced classes did, at weight 1, on Taobao's cold replay)
    must lose. The cold rows' own PR-AUC is in the curve beside it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    n_cols = len(ITEM_COLUMNS) + len(USER_COLUMNS)
    cold, cold_val = is_cold(U), is_cold(U_val)
    if y[cold].sum() == 0 or y_val[cold_val].sum() == 0 or (y[cold] == 0).sum() == 0:
        return ColdStartPrior([0.0] * n_cols, 0.0, 0.0), []
    X = _design(U[cold], I[cold])
    mean, scale = X.mean(0), X.std(0) + 1e-6
    w = None if sample_weight is None else np.asarray(sample_weight)[cold]
    model = LogisticRegression(max_iter=500).fit((X - mean) / scale, y[cold], sample_weight=w)
    prior = ColdStartPrior(
        model.coef_[0].tolist(), float(model.intercept_[0]), 0.0, mean.tolist(), scale.tolist()
    )
    curve = []
    best = (-1.0, 0.0)
    for w in np.round(np.linspace(0, 1, 11), 2):
        prior.weight = float(w)
        p = prior.apply(p_val, U_val, I_val)
        auc = float(average_precision_score(y_val, p))
        cold_auc = float(average_precision_score(y_val[cold_val], p[cold_val]))
        curve.append({"weight": float(w), "val_pr_auc": round(auc, 5), "cold_val_pr_auc": round(cold_auc, 5)})
        if auc > best[0] + 1e-9:
            best = (auc, float(w))
    prior.weight = best[1]
    return prior, curve
