"""One evaluation protocol for every model: point metrics, intervals, paired comparisons,
the budget view and calibration.

:func:`summarize` takes one judged part (its rows, its counted purchases) and each
model's scores (one vector per seed) with the thresholds chosen on validation, and
returns what ``intent train --json`` and ``intent evaluate --json`` print:

* ``models``: per model, the metrics of :mod:`training.protocol.metrics` (mean over seeds);
* ``ci``: per model, the 95% bootstrap interval of each metric, resampling users and
  seeds (:mod:`training.protocol.bootstrap`);
* ``seed_figures``: per model, each metric for each seed (the spread seeds alone give);
* ``purchase_recall`` per model and ``n_purchases``: purchases caught, out of all;
* ``paired``: the reference model (``fused``) minus every other model on the same
  resamples, Holm-adjusted over the family, with a ``reading`` of ``better``, ``worse``
  or ``cannot_tell`` (:mod:`training.protocol.comparisons`);
* ``at_budget``: per model and budget, precision, purchase recall and lift when the top
  K pairs a day are sent, with intervals (:mod:`training.protocol.budget`);
* ``calibration``: per model whose scores are probabilities, Brier score, ECE and the
  reliability table (:mod:`training.protocol.reliability`);
* ``by_activity``: per user-activity bucket (cold < 5 events, warm, heavy): every
  model's point figures; for ``bucket_models``, intervals and the paired difference
  with the reference (not adjusted: a closer look, not a verdict).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stream.domain.features import USER_LAYOUT
from stream.domain.labels import ACTIVITY_BUCKETS, activity_bucket
from training.protocol.bootstrap import UserBootstrap
from training.protocol.budget import BUDGET_METRICS, DayPairs, budget_figures
from training.protocol.comparisons import holm
from training.protocol.example_set import ExampleSet
from training.protocol.metrics import classification_metrics, purchase_recall
from training.protocol.reliability import NOT_PROBABILITIES, calibration

__all__ = ["summarize", "activity_buckets", "budget_label", "REFERENCE"]

REFERENCE = "fused"
#: parts of one seed's fused model: resampled with the fused model's seed (paired seed by seed)
LINKED = {"resnet": REFERENCE, "deep_forest": REFERENCE, "fused_no_prior": REFERENCE}
_N_EVENTS = USER_LAYOUT.index("n_events")


def budget_label(budget: float) -> str:
    """``0.05`` -> ``"5%"``."""
    return f"{budget * 100:g}%"


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


def _interval(values: np.ndarray) -> list[float]:
    v = values[np.isfinite(values)]
    return [round(float(x), 4) for x in np.percentile(v, [2.5, 97.5])] if len(v) else [np.nan, np.nan]


def _at_budget(
    ex: ExampleSet,
    boot: UserBootstrap,
    scores: dict[str, list[np.ndarray]],
    budgets: tuple[float, ...],
    day_offset_ms: int,
) -> dict[str, Any]:
    pairs = DayPairs.of_examples(ex, day_offset_ms)
    purchase_user = ex.purchase_users()
    out: dict[str, Any] = {}
    for name, runs in scores.items():
        out[name] = {}
        for budget in budgets:
            per_seed = [
                budget_figures(
                    boot.M,
                    pairs.per_user(p, pairs.cuts(p, budget), ex.cover, purchase_user, boot.n_users),
                )
                for p in runs
            ]
            row: dict[str, Any] = {
                "budget": budget,
                "k_per_day": [max(1, round(budget * a)) for a in pairs.active],
            }
            ci = {}
            for metric in BUDGET_METRICS:
                combined = boot.combine(name, [f[metric] for f in per_seed])
                row[metric] = round(float(combined[0]), 4) if np.isfinite(combined[0]) else float("nan")
                ci[metric] = _interval(combined[1:])
            row["sent"] = int(round(float(np.mean([f["sent"][0] for f in per_seed]))))
            row["ci"] = ci
            out[name][budget_label(budget)] = row
    return out


def _calibration(ex: ExampleSet, scores: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, runs in scores.items():
        if name in NOT_PROBABILITIES:
            continue
        per = [calibration(ex.y, p) for p in runs]
        out[name] = {
            "brier": round(float(np.mean([c["brier"] for c in per])), 6),
            "ece": round(float(np.mean([c["ece"] for c in per])), 6),
            "per_seed": {"brier": [c["brier"] for c in per], "ece": [c["ece"] for c in per]},
            "bins": per[0]["bins"],  # the first seed's reliability table
        }
    return out


def summarize(
    ex: ExampleSet,
    scores: dict[str, list[np.ndarray]],
    thresholds: dict[str, list[float]],
    n_boot: int = 300,
    seed: int = 0,
    bucket_models: tuple[str, ...] | None = None,
    day_offset_ms: int = 0,
    budgets: tuple[float, ...] = (),
    also_compare: tuple[str, ...] = (),
) -> dict[str, Any]:
    """See the module docstring; ``bucket_models`` limits the per-bucket intervals,
    ``day_offset_ms`` is where the data's local day starts (for the budget view);
    ``also_compare``: metrics besides PR-AUC compared with the reference the same way
    (``paired_<metric>``, a family of their own)."""
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
    if ex.n and 0 < ex.y.sum() < ex.n:
        summary["calibration"] = _calibration(ex, scores)
    if n_boot <= 0 or ex.n == 0 or not 0 < ex.y.sum() < ex.n:
        return summary
    boot = UserBootstrap(
        ex.y, ex.row_users(), ex.cover, ex.purchase_users(), n_boot=n_boot, seed=seed, linked=LINKED
    )
    res = boot.run(scores, thresholds)
    summary["ci"] = {name: r["ci"] for name, r in res.items()}
    summary["seed_figures"] = {name: r["seeds"] for name, r in res.items() if r["seeds"]}
    summary["n_boot"] = n_boot
    if REFERENCE in res and len(res) > 1:
        others = [n for n in res if n != REFERENCE]
        for metric in ("pr_auc", *also_compare):
            summary["paired" if metric == "pr_auc" else f"paired_{metric}"] = holm(
                {n: boot.differences(res, REFERENCE, n, metric) for n in others},
                {n: res[REFERENCE]["point"][metric] - res[n]["point"][metric] for n in others},
                metric=metric,
            )
    if budgets:
        summary["at_budget"] = _at_budget(ex, boot, scores, budgets, day_offset_ms)
    summary["by_activity"] = _by_activity(ex, boot, scores, thresholds, bucket_models)
    return summary


def _by_activity(
    ex: ExampleSet,
    boot: UserBootstrap,
    scores: dict[str, list[np.ndarray]],
    thresholds: dict[str, list[float]],
    bucket_models: tuple[str, ...] | None,
) -> list[dict[str, Any]]:
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
    return rows
