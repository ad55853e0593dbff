"""The paper's baselines on the same [U, I] rows, each tuned on the validation split.

Logistic regression and the linear SVM search ``C``; the random forest its depth;
XGBoost and LightGBM their tree size, with up to 2,000 rounds and early stopping on the
validation PR-AUC. The grid is searched once (``tune``, with the first seed); the other
seeds refit the chosen setting (``fit``). Every model gets the seed. Each returns a
:class:`Baseline` whose ``score(X)`` is a score in [0, 1] (the SVM's margin goes
through a logistic; only the order matters before calibration and thresholds).

Linear models see the same robust scaling as the ResNet (:mod:`models.scaling`).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.scaling import RobustScaling
from training.protocol.metrics import pr_auc

__all__ = ["Baseline", "BASELINES", "GRIDS", "tune_baseline", "fit_baseline"]

BASELINES = ("logistic_regression", "linear_svm", "random_forest", "xgboost", "lightgbm")
GRIDS: dict[str, list[dict[str, Any]]] = {
    "logistic_regression": [{"C": c} for c in (0.01, 0.1, 1.0)],
    "linear_svm": [{"C": c} for c in (0.001, 0.01, 0.1)],
    "random_forest": [{"max_depth": d} for d in (8, 16, None)],
    "xgboost": [{"max_depth": d} for d in (3, 5, 7)],
    "lightgbm": [{"num_leaves": n} for n in (7, 15, 31)],
}
QUICK_GRIDS: dict[str, list[dict[str, Any]]] = {
    "logistic_regression": [{"C": 0.1}],
    "linear_svm": [{"C": 0.01}],
    "random_forest": [{"max_depth": 12}],
    "xgboost": [{"max_depth": 4}],
    "lightgbm": [{"num_leaves": 15}],
}


@dataclass
class Baseline:
    name: str
    model: Any
    score_fn: Callable[[Any, np.ndarray], np.ndarray]
    params: dict[str, Any]
    scaling: RobustScaling | None = None

    def score(self, X: np.ndarray) -> np.ndarray:
        if self.scaling is not None:
            X = self.scaling.apply(X)
        return np.asarray(self.score_fn(self.model, X), dtype=np.float32)


def _proba(model: Any, X: np.ndarray) -> np.ndarray:
    return model.predict_proba(X)[:, 1]


def _margin(model: Any, X: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-model.decision_function(X)))


def fit_baseline(
    name: str,
    params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    seed: int = 0,
    quick: bool = False,
) -> Baseline:
    """Fit one setting; the boosted models stop early on ``X_val``/``y_val``."""
    rounds = 300 if quick else 2000
    if name in ("logistic_regression", "linear_svm"):
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        scaling = RobustScaling.fit(X)
        if name == "logistic_regression":
            model: Any = LogisticRegression(C=params["C"], max_iter=2000, random_state=seed)
            fn = _proba
        else:
            model, fn = LinearSVC(C=params["C"], max_iter=5000, dual=False, random_state=seed), _margin
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings at the grid's edges
            model.fit(scaling.apply(X), y)
        return Baseline(name, model, fn, dict(params), scaling)
    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        model = RandomForestClassifier(
            n_estimators=100 if quick else 200, min_samples_leaf=5, n_jobs=2, random_state=seed, **params
        ).fit(X, y)
        return Baseline(name, model, _proba, dict(params))
    if name == "xgboost":
        from xgboost import XGBClassifier

        model = XGBClassifier(
            n_estimators=rounds,
            learning_rate=0.05,
            subsample=0.8,
            colsample_bytree=0.8,
            eval_metric="aucpr",
            early_stopping_rounds=50,
            n_jobs=2,
            random_state=seed,
            verbosity=0,
            **params,
        )
        model.fit(X, y, eval_set=[(X_val, y_val)], verbose=False)
        return Baseline(name, model, _proba, {**params, "rounds": int(model.best_iteration) + 1})
    if name == "lightgbm":
        import lightgbm as lgb

        model = lgb.LGBMClassifier(
            n_estimators=rounds,
            learning_rate=0.05,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            n_jobs=2,
            random_state=seed,
            verbose=-1,
            **params,
        )
        # LightGBM 4.7 renamed eval_set to eval_X / eval_y
        held_out = (
            {"eval_X": (X_val,), "eval_y": (y_val,)}
            if "eval_X" in inspect.signature(model.fit).parameters
            else {"eval_set": [(X_val, y_val)]}
        )
        model.fit(
            X,
            y,
            eval_metric="average_precision",
            callbacks=[lgb.early_stopping(50, verbose=False)],
            **held_out,
        )
        return Baseline(name, model, _proba, {**params, "rounds": int(model.best_iteration_ or rounds)})
    raise KeyError(name)


def tune_baseline(
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    seed: int = 0,
    quick: bool = False,
) -> tuple[Baseline, list[dict[str, Any]]]:
    """Every setting of the grid; returns the best on validation PR-AUC and the grid's curve."""
    best: tuple[float, Baseline | None] = (-1.0, None)
    curve = []
    for params in (QUICK_GRIDS if quick else GRIDS)[name]:
        model = fit_baseline(name, params, X, y, X_val, y_val, seed, quick)
        score = pr_auc(y_val, model.score(X_val))
        curve.append({**model.params, "val_pr_auc": round(score, 5)})
        if score > best[0]:
            best = (score, model)
    assert best[1] is not None
    return best[1], curve
