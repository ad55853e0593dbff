"""The paper's baselines on the same [U, I] rows, each tuned on the validation split.

Logistic regression and the linear SVM search ``C``; the random forest its depth;
XGBoost and LightGBM their tree size, each stopped on the validation PR-AUC
(:mod:`training.fitting.boosters`). Every grid is walked past any end its best point
sits at (:mod:`training.fitting.grids`), once, with the first seed (``tune``); the
other seeds refit the chosen setting (``fit``; the boosters choose their own number of
rounds again). Every model gets the seed and the rows' sample weights. Each returns a
:class:`Baseline` whose ``score(X)`` is a score in [0, 1] (the SVM's margin goes
through a logistic; only the order matters before calibration and thresholds).

Linear models see the same robust scaling as the ResNet (:mod:`models.scaling`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.scaling import RobustScaling
from training.fitting.boosters import fit_lightgbm, fit_xgboost
from training.fitting.grids import Axis, GridSearch, add, bounded, multiply
from training.protocol.metrics import pr_auc

__all__ = ["Baseline", "BASELINES", "GRIDS", "QUICK", "tune_baseline", "fit_baseline"]

BASELINES = ("logistic_regression", "linear_svm", "random_forest", "xgboost", "lightgbm")
#: each baseline's grid: the starting values and how to step past an end
GRIDS: dict[str, Axis] = {
    "logistic_regression": Axis("C", (0.01, 0.1, 1.0), multiply(10)),
    "linear_svm": Axis("C", (0.001, 0.01, 0.1), multiply(10)),
    # unbounded depth is the top
    "random_forest": Axis("max_depth", (8, 16, None), bounded((2, 4, 8, 16, None))),
    "xgboost": Axis("max_depth", (3, 5, 7), add(2, lowest=1, highest=11)),
    "lightgbm": Axis("num_leaves", (15, 31, 63), bounded((2, 3, 7, 15, 31, 63, 127, 255))),
}
#: ``--quick``: one setting each, fewer rounds
QUICK: dict[str, dict[str, Any]] = {
    "logistic_regression": {"C": 0.1},
    "linear_svm": {"C": 0.01},
    "random_forest": {"max_depth": 12},
    "xgboost": {"max_depth": 4},
    "lightgbm": {"num_leaves": 15},
}


@dataclass
class Baseline:
    name: str
    model: Any
    score_fn: Callable[[np.ndarray], np.ndarray]
    params: dict[str, Any]
    scaling: RobustScaling | None = None
    #: the boosters' validation PR-AUC after each round (empty for the others)
    curve: list[float] = field(default_factory=list)

    def score(self, X: np.ndarray) -> np.ndarray:
        if self.scaling is not None:
            X = self.scaling.apply(X)
        return np.asarray(self.score_fn(X), dtype=np.float32)


def fit_baseline(
    name: str,
    params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    seed: int = 0,
    quick: bool = False,
    w: np.ndarray | None = None,
) -> Baseline:
    """Fit one setting with row weights ``w`` (None: 1); the boosted models stop on
    ``X_val``/``y_val``."""
    if name in ("logistic_regression", "linear_svm"):
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        scaling = RobustScaling.fit(X)
        if name == "logistic_regression":
            lr = LogisticRegression(C=params["C"], max_iter=2000, random_state=seed)
            model: Any = lr
            fn: Callable[[np.ndarray], np.ndarray] = lambda X_: lr.predict_proba(X_)[:, 1]  # noqa: E731
        else:
            svm = LinearSVC(C=params["C"], max_iter=5000, dual=False, random_state=seed)
            model, fn = svm, lambda X_: 1.0 / (1.0 + np.exp(-svm.decision_function(X_)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings at the grid's edges
            model.fit(scaling.apply(X), y, sample_weight=w)
        return Baseline(name, model, fn, dict(params), scaling)
    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        # 100 trees (scikit-learn's default; 200 before): its depth is what is tuned
        rf = RandomForestClassifier(
            n_estimators=100, min_samples_leaf=5, n_jobs=2, random_state=seed, **params
        ).fit(X, y, sample_weight=w)
        return Baseline(name, rf, lambda X_: rf.predict_proba(X_)[:, 1], dict(params))
    if name in ("xgboost", "lightgbm"):
        fit = fit_xgboost if name == "xgboost" else fit_lightgbm
        booster, fn, curve, rounds = fit(
            params,
            X,
            y,
            w,
            X_val,
            y_val,
            seed,
            max_rounds=300 if quick else 2000,
            patience=50 if quick else 60,  # over two smoothing windows past the best raw round
            window=5 if quick else 25,
        )
        return Baseline(name, booster, fn, {**params, "rounds": rounds}, curve=curve)
    raise KeyError(name)


def tune_baseline(
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    seed: int = 0,
    quick: bool = False,
    w: np.ndarray | None = None,
    budget_s: float = float("inf"),
) -> tuple[Baseline, GridSearch]:
    """The grid walked on validation PR-AUC (see the module docstring); returns the best
    model and the search (its curve, and why it ended)."""
    axis = GRIDS[name]
    if quick:
        axis = Axis(axis.name, (QUICK[name][axis.name],), axis.step)

    def fit(point: dict[str, Any]) -> tuple[float, Baseline]:
        model = fit_baseline(name, point, X, y, X_val, y_val, seed, quick, w)
        return pr_auc(y_val, model.score(X_val)), model

    search = GridSearch([axis], max_steps=0 if quick else 3, budget_s=budget_s)
    # the boosters' rounds beside their setting
    search.run(fit, lambda m: {"rounds": m.params["rounds"]} if "rounds" in m.params else {})
    return search.best_model, search
