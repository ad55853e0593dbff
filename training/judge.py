"""Every model judged by the protocol, once all seeds are fitted: the thresholds, the test
days, their cold replay, validation, and the served model on its own.

* **Thresholds** are chosen on validation for one stated purpose, the same for every
  model: the cut that sends ``intent_budget`` x the day's active users pairs a day
  (:meth:`~training.protocol.budget.DayPairs.volume_threshold`), a volume marketing can
  plan for. Precision, recall, F1 and purchase recall are read there, so every model is
  compared at the same volume; the budget view compares them at several.
* **The served model** is one seed's fused model, the seed whose fusion scores the best
  validation PR-AUC (never test); its figures are its own (``served``), judged as
  ``intent evaluate --model ARTIFACT DATA --part test`` judges the written artifact, and
  the seeds' spread is given beside them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from training.config import TrainConfig
from training.fitting.networks.registry import NETWORKS
from training.fitting.rules import RULES
from training.fitting.seed_run import SeedRun, TrainingData
from training.protocol.budget import DayPairs
from training.protocol.evaluation import summarize
from training.protocol.metrics import pr_auc

__all__ = ["judge", "choose_served", "SERVED_MODELS", "BUCKET_MODELS"]

#: the served artifact's models, as ``intent evaluate`` reports them
SERVED_MODELS = ("resnet", "deep_forest", "fused")
#: models the per-activity table gives intervals for (the rest: point figures)
BUCKET_MODELS = ("fused", "resnet", "deep_forest", "lightgbm", "random_forest", "cart_rule", *NETWORKS)


def choose_served(runs: list[SeedRun], y_val: np.ndarray) -> tuple[int, list[float]]:
    """The index of the run whose fused model scores the best validation PR-AUC, and each
    run's."""
    scores = [round(pr_auc(y_val, r.val["fused"]), 5) for r in runs]
    return int(np.argmax(scores)), scores


def judge(
    runs: list[SeedRun], data: TrainingData, cfg: TrainConfig, day_offset_ms: int, served: int
) -> dict[str, Any]:
    """The summaries of :func:`training.protocol.evaluation.summarize`: ``test``, ``cold``
    (the test days' cold replay), ``val`` (point figures) and ``served``; and the
    ``thresholds`` per model and seed."""
    va, te = data.va, data.te
    for name, rule in RULES.items():
        for run in runs:
            run.scored(name, rule(va.I), {"test": rule(te.I), **_cold(data, rule)})
    names = list(runs[0].test)
    val_pairs: DayPairs = data.val_pairs
    thresholds = {
        n: [
            run.scorer.threshold
            if n == "fused" and run.scorer
            else val_pairs.volume_threshold(run.val[n], cfg.intent_budget)
            for run in runs
        ]
        for n in names
    }
    seed0 = cfg.seeds[0]

    def per_seed(part: str) -> dict[str, list[np.ndarray]]:
        return {n: [run.judged[part][n] for run in runs] for n in names}

    out: dict[str, Any] = {"thresholds": thresholds}
    out["test"] = summarize(
        te, per_seed("test"), thresholds, cfg.n_boot, seed0, BUCKET_MODELS, day_offset_ms, cfg.budgets
    )
    if "test" in data.cold:
        out["cold"] = summarize(
            data.cold["test"],
            per_seed("cold_test"),
            thresholds,
            cfg.n_boot,
            seed0,
            (),
            day_offset_ms,
            also_compare=("roc_auc",),
        )
    out["val"] = summarize(va, {n: [run.val[n] for run in runs] for n in names}, thresholds, 0, seed0)
    run = runs[served]
    out["served"] = summarize(
        te,
        {n: [run.test[n]] for n in SERVED_MODELS},
        {n: [thresholds[n][served]] for n in SERVED_MODELS},
        cfg.n_boot,
        seed0,
        None,
        day_offset_ms,
        cfg.budgets,
    )
    return out


def _cold(data: TrainingData, rule: Any) -> dict[str, np.ndarray]:
    return {"cold_test": rule(data.cold["test"].I)} if "test" in data.cold else {}
