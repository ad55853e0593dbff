"""XGBoost and LightGBM, stopped on the metric they are chosen by.

Both record the validation PR-AUC (average precision, the protocol's first metric) after
every round and nothing else: LightGBM is given that metric alone (its default
log-loss, evaluated beside it, used to stop it after 16-19 rounds: with 3.5% positives
in the training rows against 0.18% in validation, log-loss worsens long before the
ranking does), XGBoost a metric of ours (its own ``aucpr`` costs four times a round's
fit on 272,000 validation rows). Training runs until ``patience`` rounds pass without a
better raw score, then the number of rounds kept is the best of the curve **smoothed**
over ``window`` rounds (a centred moving average), so a lucky round is not what is
kept; the model predicts with that many trees. Learning rate 0.05, as before: on
Taobao's validation day 0.02 moved each booster's best later but not reliably higher
(LightGBM 0.040 against 0.034, XGBoost 0.028 against 0.032), at two to five times the rounds.

>>> rounds_from_curve([0.1, 0.3, 0.2, 0.31, 0.3, 0.32, 0.29, 0.2], window=3)   # raw best: round 6
5
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from training.protocol.metrics import pr_auc

__all__ = ["fit_xgboost", "fit_lightgbm", "rounds_from_curve", "LEARNING_RATE"]

LEARNING_RATE = 0.05


def rounds_from_curve(curve: list[float], window: int) -> int:
    """The number of rounds (1-based) at the best of ``curve`` smoothed by a centred
    moving average of ``window`` rounds (truncated at the ends)."""
    c = np.asarray(curve, dtype=np.float64)
    if not len(c):
        return 1
    half = window // 2
    sums = np.r_[0.0, np.cumsum(c)]
    lo = np.maximum(np.arange(len(c)) - half, 0)
    hi = np.minimum(np.arange(len(c)) + half + 1, len(c))
    smooth = (sums[hi] - sums[lo]) / (hi - lo)
    return int(np.argmax(smooth)) + 1


def fit_xgboost(
    params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    X_val: np.ndarray,
    y_val: np.ndarray,
    seed: int,
    max_rounds: int,
    patience: int,
    window: int,
) -> tuple[Any, Callable[[np.ndarray], np.ndarray], list[float], int]:
    """Fit; returns the model, its scoring function, the validation curve and the rounds kept."""
    import xgboost as xgb

    def neg_pr_auc(y_true: np.ndarray, p: np.ndarray) -> float:
        return -pr_auc(y_true, p)

    model = xgb.XGBClassifier(
        n_estimators=max_rounds,
        learning_rate=LEARNING_RATE,
        subsample=0.8,
        colsample_bytree=0.8,
        eval_metric=neg_pr_auc,  # minimised: the early stopping's direction is xgboost's default
        early_stopping_rounds=patience,
        n_jobs=2,
        random_state=seed,
        verbosity=0,
        **params,
    )
    model.fit(X, y, sample_weight=w, eval_set=[(X_val, y_val)], verbose=False)
    curve = [-v for v in model.evals_result()["validation_0"]["neg_pr_auc"]]
    rounds = rounds_from_curve(curve, window)

    def score(X_: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_proba(X_, iteration_range=(0, rounds))[:, 1])

    return model, score, curve, rounds


def fit_lightgbm(
    params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    X_val: np.ndarray,
    y_val: np.ndarray,
    seed: int,
    max_rounds: int,
    patience: int,
    window: int,
) -> tuple[Any, Callable[[np.ndarray], np.ndarray], list[float], int]:
    """Fit; returns the model, its scoring function, the validation curve and the rounds kept."""
    import inspect

    import lightgbm as lgb

    model = lgb.LGBMClassifier(
        n_estimators=max_rounds,
        learning_rate=LEARNING_RATE,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        metric="average_precision",  # the only metric evaluated: the one the model is chosen by
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
    record: dict[str, Any] = {}
    model.fit(
        X,
        y,
        sample_weight=w,
        callbacks=[
            lgb.early_stopping(patience, first_metric_only=True, verbose=False),
            lgb.record_evaluation(record),
        ],
        **held_out,
    )
    curve = [float(v) for v in next(iter(record.values()))["average_precision"]]
    rounds = rounds_from_curve(curve, window)

    def score(X_: np.ndarray) -> np.ndarray:
        proba: np.ndarray = np.asarray(model.predict_proba(X_, num_iteration=rounds))
        return proba[:, 1]

    return model, score, curve, rounds
