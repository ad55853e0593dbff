"""Metrics shared by every model in the report, per scored row and per purchase.

Per row: precision, recall and F1 at a threshold, ROC-AUC and PR-AUC (average
precision, the primary metric: positives are rare). Every function takes optional
row weights, which the bootstrap uses (a user drawn twice counts twice) and which a
sampled evaluation uses (a kept negative-only moment stands for ``1 / rate`` of them);
unweighted, the figures equal scikit-learn's.

Per purchase: a purchase is **caught** when one of the rows whose label window holds it
(the user's moments within the horizon before it, with that item as a candidate)
scores at or above the threshold, as the intent gate would have published it.
Purchase recall divides by *every* purchase counted, including those whose item was
never a candidate: a candidate miss is a false negative.

>>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.6, 0.4, 0.9])
>>> m = classification_metrics(y, p, threshold=0.5)
>>> m["precision"], m["recall"], m["roc_auc"], m["pr_auc"]
(0.5, 0.5, 0.75, 0.8333)
>>> best_threshold(y, p)
0.4
>>> purchase_recall(p, cover=np.array([[3, 0], [2, 1]]), n_purchases=3, threshold=0.5)
0.3333
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "RankedScores",
    "pr_auc",
    "roc_auc",
    "classification_metrics",
    "best_threshold",
    "purchase_recall",
    "caught",
]


class RankedScores:
    """Scores sorted once (descending), so that weighted AUCs of many resamples of the
    same rows cost a gather and two cumulative sums each."""

    def __init__(self, y: np.ndarray, p: np.ndarray) -> None:
        p = np.asarray(p, dtype=np.float64)
        self.order = np.argsort(-p, kind="stable")
        self.y = np.asarray(y)[self.order].astype(np.float64)
        ps = p[self.order]
        # the last row of each run of equal scores: thresholds sit only between distinct scores
        self.ends = np.flatnonzero(np.r_[ps[1:] != ps[:-1], True])

    def pr_auc(self, w: np.ndarray | None = None) -> float:
        """Average precision; ``w`` aligned with the ORIGINAL row order."""
        wy, wn = self.weights(w)
        tp = np.cumsum(wy)[self.ends]
        fp = np.cumsum(wn)[self.ends]
        if tp[-1] <= 0:
            return float("nan")
        precision = tp / np.maximum(tp + fp, 1e-300)
        recall_step = np.diff(np.r_[0.0, tp]) / tp[-1]
        return float(np.sum(recall_step * precision))

    def roc_auc(self, w: np.ndarray | None = None) -> float:
        wy, wn = self.weights(w)
        pos = np.add.reduceat(wy, np.r_[0, self.ends[:-1] + 1])
        neg = np.add.reduceat(wn, np.r_[0, self.ends[:-1] + 1])
        total_pos, total_neg = pos.sum(), neg.sum()
        if total_pos <= 0 or total_neg <= 0:
            return float("nan")
        # descending scores: a positive beats every negative in later runs, ties count half
        neg_below = total_neg - np.cumsum(neg)
        return float(np.sum(pos * (neg_below + 0.5 * neg)) / (total_pos * total_neg))

    def weights(self, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        ws = np.ones_like(self.y) if w is None else np.asarray(w, dtype=np.float64)[self.order]
        return ws * self.y, ws * (1.0 - self.y)


def pr_auc(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    return RankedScores(y, p).pr_auc(w)


def roc_auc(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    return RankedScores(y, p).roc_auc(w)


def _counts(
    y: np.ndarray, p: np.ndarray, threshold: float, w: np.ndarray | None
) -> tuple[float, float, float]:
    pred = np.asarray(p) >= threshold
    pos = np.asarray(y) == 1
    w = np.ones(len(pred)) if w is None else np.asarray(w, dtype=np.float64)
    tp = float(w[pred & pos].sum())
    return tp, float(w[pred].sum()) - tp, float(w[pos].sum()) - tp


def best_threshold(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    """The score cut that maximises F1 (ties: the higher cut)."""
    y = np.asarray(y).astype(int)
    if y.sum() == 0 or len(y) == 0:
        return 0.5
    r = RankedScores(y, p)
    wy, wn = r.weights(w)
    tp = np.cumsum(wy)[r.ends]
    fp = np.cumsum(wn)[r.ends]
    f1 = 2 * tp / (2 * tp + fp + (tp[-1] - tp))
    ps = np.asarray(p, dtype=np.float64)[r.order]
    return float(ps[r.ends[int(np.argmax(f1))]])


def caught(p: np.ndarray, cover: np.ndarray, n_purchases: int, threshold: float) -> np.ndarray:
    """Per counted purchase: did any row covering it score at or above ``threshold``."""
    out = np.zeros(n_purchases, dtype=bool)
    if len(cover):
        hit = np.asarray(p)[cover[:, 0]] >= threshold
        out[cover[hit, 1]] = True
    return out


def purchase_recall(
    p: np.ndarray, cover: np.ndarray, n_purchases: int, threshold: float, w: np.ndarray | None = None
) -> float:
    """Share of the counted purchases caught (weighted per purchase by ``w``)."""
    if n_purchases == 0:
        return float("nan")
    got = caught(p, cover, n_purchases, threshold)
    w = np.ones(n_purchases) if w is None else np.asarray(w, dtype=np.float64)
    total = w.sum()
    return round(float(w[got].sum() / total), 4) if total > 0 else float("nan")


def classification_metrics(
    y: np.ndarray, p: np.ndarray, threshold: float, w: np.ndarray | None = None
) -> dict[str, float]:
    y = np.asarray(y).astype(int)
    tp, fp, fn = _counts(y, p, threshold, w)
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    both = 0 < y.sum() < len(y)
    ranked = RankedScores(y, p) if both else None
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "roc_auc": round(ranked.roc_auc(w), 4) if ranked else float("nan"),
        "pr_auc": round(ranked.pr_auc(w), 4) if ranked else float("nan"),
        "threshold": round(float(threshold), 6),
    }
