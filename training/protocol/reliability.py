"""Calibration on the test days: is a model's probability the rate at which it comes true?

The served threshold and the coupon band (``INTENT_COUPON_MIN_P`` / ``_MAX_P``) are set
in probabilities, so the served model's must mean what they say on days it never saw.
For every model whose score is a probability (not the rules, whose scores only order,
nor the linear SVM's squashed margin):

* the **Brier score**, the mean squared gap between probability and outcome;
* the **expected calibration error** (ECE): rows sorted by probability into ``bins``
  bins of equal size (positives are rare: equal-width bins would put nearly every row in
  the first), the mean over rows of |mean probability - rate of purchases| in the row's bin;
* the **reliability table**: each bin's mean probability, purchase rate and rows.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> p = rng.random(20_000) * 0.1; y = (rng.random(20_000) < p).astype(int)
>>> c = calibration(y, p)
>>> c["ece"] < 0.005, calibration(y, p * 3)["ece"] > 0.05   # calibrated; three times too high
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["calibration", "NOT_PROBABILITIES"]

#: models whose scores are not probabilities: no calibration check
NOT_PROBABILITIES = ("cart_rule", "recency_rule", "linear_svm")


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Brier score, ECE and the reliability table of ``p`` against outcomes ``y``."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if not len(p):
        return {"brier": float("nan"), "ece": float("nan"), "bins": []}
    order = np.argsort(p, kind="stable")
    table, ece = [], 0.0
    for chunk in np.array_split(order, min(bins, len(p))):
        mean_p, rate = float(p[chunk].mean()), float(y[chunk].mean())
        ece += len(chunk) / len(p) * abs(mean_p - rate)
        table.append({"p_mean": round(mean_p, 6), "rate": round(rate, 6), "rows": int(len(chunk))})
    return {"brier": round(float(np.mean((p - y) ** 2)), 6), "ece": round(ece, 6), "bins": table}
