"""The paper's baselines on the same [U, I] rows: LR, linear SVM, RF, XGBoost, LightGBM.

Each ``fit_*`` returns a fitted object with ``predict_proba``-like ``score(X) -> P(buy)``
(the SVM's margin is squashed by a logistic so every model gives a score in [0, 1]).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

__all__ = ["Baseline", "BASELINES", "fit_baseline"]


@dataclass
class Baseline:
    name: str
    model: Any
    score_fn: Callable[[Any, np.ndarray], np.ndarray]

    def score(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.score_fn(self.model, X), dtype=np.float32)


def _proba(model: Any, X: np.ndarray) -> np.ndarray:
    return model.predict_proba(X)[:, 1]


def _margin(model: Any, X: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-model.decision_function(X)))


def _make(name: str, quick: bool) -> tuple[Any, Callable[[Any, np.ndarray], np.ndarray]]:
    trees = 50 if quick else 300
    if name == "logistic_regression":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0)), _proba
    if name == "linear_svm":
        return make_pipeline(StandardScaler(), LinearSVC(C=0.1, max_iter=5000)), _margin
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=trees, min_samples_leaf=2, n_jobs=2,
                                      random_state=0), _proba
    if name == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(n_estimators=trees, max_depth=6, learning_rate=0.05,
                             subsample=0.8, colsample_bytree=0.8, n_jobs=2,
                             random_state=0, verbosity=0), _proba
    if name == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(n_estimators=trees, num_leaves=31, learning_rate=0.05,
                              subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                              n_jobs=2, random_state=0, verbose=-1), _proba
    raise KeyError(name)


BASELINES = ("logistic_regression", "linear_svm", "random_forest", "xgboost", "lightgbm")


def fit_baseline(name: str, X: np.ndarray, y: np.ndarray, quick: bool = False) -> Baseline:
    model, score_fn = _make(name, quick)
    model.fit(X, y)
    return Baseline(name, model, score_fn)
