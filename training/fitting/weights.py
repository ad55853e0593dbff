"""Sample weights: what a kept training row stands for, in every model's loss.

Training moments without a purchase are sampled as they are built
(:mod:`training.protocol.examples`: 3% kept), so idle moments are 33 times
under-represented in the training rows, against the validation and test days where
every moment is scored. A row's weight undoes that: ``1 / neg_group_rate`` for a
sampled moment's rows, 1 for a buying moment's (and, when the row models take only
``neg_ratio`` negatives per positive, the negatives' share on top). Every model's fit
takes the weights (:func:`training.fitting.seed.fit_seed` passes them to each).

Whether they are used is a choice the run makes and reports (``sample_weights``):
``"on"``, ``"off"``, or ``"auto"``: on validation, LightGBM (the quickest model that
takes weights) is fitted both ways at its quick setting, and the weights are used by
every model when they give the better validation PR-AUC. On Taobao they do not
(measured on its validation day: LightGBM 0.026 weighted against 0.021, logistic
regression 0.0059 against 0.0112, a random forest 0.025 against 0.031): a few hundred
sampled idle moments, each weighing 33, then dominate the loss.

>>> import numpy as np
>>> y = np.array([1, 0, 0, 0, 0, 0]); w = np.array([1, 1, 33, 33, 33, 33], dtype=np.float32)
>>> rows, rw = tabular_rows(y, w, ratio=None, seed=0)
>>> rows.tolist(), rw.tolist()
([0, 1, 2, 3, 4, 5], [1.0, 1.0, 33.0, 33.0, 33.0, 33.0])
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["tabular_rows", "decide_weights"]


def tabular_rows(y: np.ndarray, w: np.ndarray, ratio: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every positive row and ``ratio`` negatives per positive, at least 2,000 (all when
    fewer, or when ``ratio`` is None), sorted; and their weights (``w``, the kept
    negatives scaled by the share they stand for)."""
    w = np.asarray(w, dtype=np.float32)
    if ratio is None:
        return np.arange(len(y)), w
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    keep = min(len(neg), max(ratio * len(pos), 2000))
    rows = np.sort(np.concatenate([pos, rng.choice(neg, keep, replace=False)]))
    scale = np.where(y[rows] == 1, 1.0, len(neg) / max(keep, 1)).astype(np.float32)
    return rows, w[rows] * scale


def decide_weights(
    mode: str,
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    seed: int,
) -> dict[str, Any]:
    """Whether every model weighs its rows (``used``), and why: the mode, and under
    ``"auto"`` the probe's validation PR-AUC both ways."""
    if mode not in ("on", "off", "auto"):
        raise ValueError(f"sample_weights must be on, off or auto, got {mode!r}")
    sampled = bool(np.any(w != 1))
    out: dict[str, Any] = {"mode": mode, "sampled_rows": int(np.sum(w != 1)), "max_weight": float(w.max())}
    if mode != "auto" or not sampled:
        out["used"] = mode == "on"
        out["reason"] = "as configured" if mode != "auto" else "no sampled rows: every weight is 1"
        return out
    from training.fitting.baselines import fit_baseline
    from training.protocol.metrics import pr_auc

    probe = {}
    for name, weights in (("weighted", w), ("unweighted", None)):
        model = fit_baseline("lightgbm", {"num_leaves": 15}, X, y, X_val, y_val, seed, True, weights)
        probe[name] = round(pr_auc(y_val, model.score(X_val)), 5)
    out["probe"] = {"model": "lightgbm (15 leaves)", "val_pr_auc": probe}
    out["used"] = probe["weighted"] > probe["unweighted"]
    out["reason"] = (
        f"on validation, LightGBM scored PR-AUC {probe['weighted']} weighted against "
        f"{probe['unweighted']} unweighted: every model "
        + ("weighs its rows" if out["used"] else "is trained unweighted")
    )
    return out
