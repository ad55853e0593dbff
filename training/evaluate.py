"""Metrics and threshold choice, shared by every model in the report.

>>> import numpy as np
>>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.6, 0.4, 0.9])
>>> m = classification_metrics(y, p, threshold=0.5)
>>> m["precision"], m["recall"], m["roc_auc"]
(0.5, 0.5, 0.75)
>>> best_threshold(y, p)
0.4
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

if TYPE_CHECKING:
    from training.examples import ExampleSet

__all__ = ["classification_metrics", "best_threshold", "f1_at", "activity_table"]


def f1_at(y: np.ndarray, p: np.ndarray, threshold: float) -> float:
    pred = p >= threshold
    tp = float(np.sum(pred & (y == 1)))
    fp = float(np.sum(pred & (y == 0)))
    fn = float(np.sum(~pred & (y == 1)))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The score cut that maximises F1 (ties: the higher cut)."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    if y.sum() == 0 or len(p) == 0:
        return 0.5
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    tp = np.cumsum(ys)
    fp = np.cumsum(1 - ys)
    f1 = 2 * tp / (2 * tp + fp + (ys.sum() - tp))
    # only cut between distinct scores
    last_of_value = np.r_[ps[1:] != ps[:-1], True]
    f1 = np.where(last_of_value, f1, -1)
    return float(ps[int(np.argmax(f1))])


def classification_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    pred = p >= threshold
    tp = float(np.sum(pred & (y == 1)))
    precision = tp / max(float(pred.sum()), 1.0)
    recall = tp / max(float(y.sum()), 1.0)
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    both = 0 < y.sum() < len(y)
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "roc_auc": round(float(roc_auc_score(y, p)), 4) if both else float("nan"),
        "pr_auc": round(float(average_precision_score(y, p)), 4) if both else float("nan"),
        "threshold": round(float(threshold), 6),
    }


def activity_table(ex: "ExampleSet", scores: dict[str, np.ndarray], thresholds: dict[str, float],
                   models: tuple[str, ...] = ("fused", "fused_no_prior", "deep_forest", "resnet",
                                              "random_forest", "xgboost", "lightgbm")) -> list[dict]:
    """Metrics per user-activity bucket (cold < 5 events, warm, heavy; as the worker's live
    accuracy) for each model, at the model's own threshold."""
    from models.cold_start import N_EVENTS_COLUMN
    from stream.live_accuracy import ACTIVITY_BUCKETS, activity_bucket

    n_events = np.rint(np.expm1(ex.U[:, N_EVENTS_COLUMN])).astype(int)
    buckets = np.array([activity_bucket(int(n)) for n in n_events])
    rows = []
    for bucket, _ in ACTIVITY_BUCKETS:
        mask = buckets == bucket
        for name in models:
            if name not in scores or not mask.any():
                continue
            m = classification_metrics(ex.y[mask], scores[name][mask], thresholds[name])
            rows.append({"bucket": bucket, "model": name, "rows": int(mask.sum()),
                         "positives": int(ex.y[mask].sum()), **m})
    return rows
