"""Paired comparisons against the fused model, Holm-adjusted, each read as better, worse or cannot tell.

Fifteen models are compared with the fused one on the same data, so one in twenty
"differences" at the 95% level would be noise. The comparisons are one family, adjusted
by Holm's step-down procedure on their bootstrap p-values (users and seeds resampled,
:mod:`training.protocol.bootstrap`): sorted by p-value, the ``i``-th smallest (from 0)
is a difference when its p-value and every smaller one are below
``alpha / (m - i)``. Each comparison's interval is given at its own Holm level
(``1 - alpha / (m - i)``; from the first comparison that is not a difference on, at that
one's level), so a reading and its interval always agree: "better" or "worse" only when
the adjusted interval leaves out 0, "cannot_tell" (with the interval) otherwise.

>>> rng = np.random.default_rng(0)
>>> diffs = {"far": rng.normal(0.02, 0.005, 2000), "near": rng.normal(0.004, 0.003, 2000),
...          "none": rng.normal(0.0, 0.01, 2000)}
>>> out = holm(diffs, {k: float(np.mean(v)) for k, v in diffs.items()})
>>> {k: v["reading"] for k, v in out.items()}
{'far': 'better', 'near': 'cannot_tell', 'none': 'cannot_tell'}
>>> out["far"]["level"], out["near"]["level"]   # near: p ~ 0.18 > 0.05 / 2
(0.983333, 0.975)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from training.protocol.bootstrap import p_value

__all__ = ["holm", "READINGS", "ALPHA"]

ALPHA = 0.05
#: the fused model against another: better, worse, or the data cannot tell them apart
READINGS = ("better", "worse", "cannot_tell")


def holm(
    diffs: dict[str, np.ndarray], points: dict[str, float], alpha: float = ALPHA, metric: str = "pr_auc"
) -> dict[str, dict[str, Any]]:
    """Per comparison (``diffs``: fused minus the model on each resample; ``points``: on
    the data itself): the Holm-adjusted interval ``[lo, median, hi]``, its level, the raw
    and adjusted p-values and the reading; see the module docstring."""
    names = sorted(diffs, key=lambda n: (p_value(diffs[n]), n))
    m = len(names)
    out: dict[str, dict[str, Any]] = {}
    stopped_at: float | None = None  # the level of the first comparison that is not a difference
    adjusted_max = 0.0
    for i, name in enumerate(names):
        d = np.asarray(diffs[name])
        d = d[np.isfinite(d)]
        p = p_value(d)
        step_alpha = alpha / (m - i)
        adjusted_max = max(adjusted_max, min(1.0, p * (m - i)))
        rejected = stopped_at is None and p < step_alpha
        if not rejected and stopped_at is None:
            stopped_at = step_alpha
        level_alpha = step_alpha if stopped_at is None or rejected else stopped_at
        tail = level_alpha / 2 * 100
        lo, mid, hi = [float(v) for v in np.percentile(d, [tail, 50, 100 - tail])] if len(d) else [np.nan] * 3
        point = float(points[name])
        if rejected and lo > 0:
            reading = "better"
        elif rejected and hi < 0:
            reading = "worse"
        else:
            reading = "cannot_tell"
        out[name] = {
            f"{metric}_diff": [round(lo, 4), round(mid, 4), round(hi, 4)],
            "point": round(point, 4),
            "level": round(1 - level_alpha, 6),
            "p_value": p,
            "p_holm": round(adjusted_max, 6),
            "p_better": round(float(np.mean(d > 0)), 4) if len(d) else float("nan"),
            "reading": reading,
        }
    return out
