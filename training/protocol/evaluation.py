"""One evaluation protocol for every model: point metrics, intervals, paired differences.

:func:`summarize` takes one evaluated part (its rows, its counted purchases) and each
model's scores (one vector per seed) with the thresholds chosen on validation, and
returns what ``intent train --json`` and ``intent evaluate --json`` print:

* ``models``: per model, the metrics of :mod:`training.protocol.metrics` (mean over seeds);
* ``ci``: per model, the 95% bootstrap interval by user of each metric;
* ``seed_figures``: per model, each metric for each seed (the spread seeds alone give);
* ``purchase_recall`` per model and ``n_purchases``: purchases caught, out of all;
* ``paired``: the reference model (``fused``) minus every other model on the same
  resamples: ``pr_auc_diff`` [2.5%, 50%, 97.5%] and ``p_better``;
* ``by_activity``: the same per user-activity bucket (cold < 5 events, warm, heavy):
  every model's point figures; for ``bucket_models``, intervals and the paired
  difference with the reference.

A difference whose interval holds 0 is reported as no difference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stream.domain.features import USER_LAYOUT
from stream.domain.labels import ACTIVITY_BUCKETS, activity_bucket
from training.protocol.bootstrap import UserBootstrap
from training.protocol.examples import ExampleSet
from training.protocol.metrics import classification_metrics, purchase_recall

__all__ = ["summarize", "activity_buckets", "REFERENCE"]

REFERENCE = "fused"
_N_EVENTS = USER_LAYOUT.index("n_events")


def activity_buckets(ex: ExampleSet) -> np.ndarray:
    """Each row's user-activity bucket name, from the user's event count at the moment."""
    n_events = np.rint(np.expm1(ex.U[:, _N_EVENTS])).astype(int)
    per_group = np.array([activity_bucket(int(n)) for n in n_events], dtype=object)
    return per_group[ex.row_group()] if len(per_group) else np.zeros(0, dtype=object)


def _point(ex: ExampleSet, runs: list[np.ndarray], thresholds: list[float]) -> dict[str, float]:
    """Each metric averaged over the seeds' runs."""
    per = [classification_metrics(ex.y, p, t) for p, t in zip(runs, thresholds)]
    out = {k: round(float(np.mean([m[k] for m in per])), 4) for k in per[0]}
    n = len(ex.purchases)
    out["purchase_recall"] = (
        round(float(np.mean([purchase_recall(p, ex.cover, n, t) for p, t in zip(runs, thresholds)])), 4)
        if n
        else float("nan")
    )
    return out


def summarize(
    ex: ExampleSet,
    scores: dict[str, list[np.ndarray]],
    thresholds: dict[str, list[float]],
    n_boot: int = 300,
    seed: int = 0,
    bucket_models: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """See the module docstring; ``bucket_models`` limits the per-bucket intervals."""
    summary: dict[str, Any] = {
        "models": {name: _point(ex, runs, thresholds[name]) for name, runs in scores.items()},
        "n_examples": int(ex.n),
        "positive_rate": round(float(ex.y.mean()), 6) if ex.n else 0.0,
        "candidate_recall": ex.purchases.candidate_recall(),
        "touched_share": ex.purchases.touched_share(),
        "n_purchases": len(ex.purchases),
        "n_users": len(set(ex.users)),
    }
    summary["purchase_recall"] = {n: m["purchase_recall"] for n, m in summary["models"].items()}
    if n_boot <= 0 or ex.n == 0 or not 0 < ex.y.sum() < ex.n:
        return summary
    boot = UserBootstrap(ex.y, ex.row_users(), ex.cover, ex.purchase_users(), n_boot=n_boot, seed=seed)
    res = boot.run(scores, thresholds)
    summary["ci"] = {name: r["ci"] for name, r in res.items()}
    summary["seed_figures"] = {name: r["seeds"] for name, r in res.items() if r["seeds"]}
    summary["n_boot"] = n_boot
    if REFERENCE in res:
        summary["paired"] = {name: boot.paired(res, REFERENCE, name) for name in res if name != REFERENCE}
    buckets = activity_buckets(ex)
    rows = []
    for bucket, _ in ACTIVITY_BUCKETS:
        mask = buckets == bucket
        if not mask.any():
            continue
        chosen = {n: s for n, s in scores.items() if bucket_models is None or n in bucket_models}
        sub = (
            boot.run(chosen, thresholds, mask=mask, metrics=("pr_auc", "f1"))
            if 0 < ex.y[mask].sum() < mask.sum()
            else {}
        )
        for name, runs in scores.items():
            per = [classification_metrics(ex.y[mask], p[mask], t) for p, t in zip(runs, thresholds[name])]
            row = {
                "bucket": bucket,
                "model": name,
                "rows": int(mask.sum()),
                "positives": int(ex.y[mask].sum()),
                **{k: round(float(np.mean([m[k] for m in per])), 4) for k in per[0]},
            }
            if name in sub:
                row["ci"] = sub[name]["ci"]
                if REFERENCE in sub and name != REFERENCE:
                    row["paired"] = boot.paired(sub, REFERENCE, name)
            rows.append(row)
    summary["by_activity"] = rows
    return summary
