"""The deep-forest branch's fit: its depth and trees per forest chosen on validation.

The first seed walks the grid (:mod:`training.fitting.grids`): the configured depths and
trees, then one step past any end the best setting sits at (shallower or deeper, up to
unbounded depth; fewer or more trees, up to 120 a forest), while the run's forest budget
lasts (each next point's cost estimated from the points fitted, by its size); the other
seeds fit the chosen setting. Each point records its levels, its validation PR-AUC per
level, its fit seconds and its microseconds per validation pair (what serving a pair
costs, in batches).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from models.forest import DeepForest
from training.config import TrainConfig
from training.fitting.grids import Axis, GridSearch, bounded
from training.fitting.seed_run import TrainingData
from training.protocol.metrics import pr_auc

__all__ = ["fit_forest", "DEPTHS", "TREES"]

DEPTHS: tuple[int | None, ...] = (4, 8, 16, 32, None)
TREES: tuple[int, ...] = (10, 15, 20, 40, 60, 80, 120)


def fit_forest(
    cfg: TrainConfig, data: TrainingData, seed: int, tuned: dict[str, Any], X_val: np.ndarray
) -> tuple[DeepForest, np.ndarray, dict[str, Any]]:
    """The chosen forest, its validation scores, and the search (``points``, ``ended``)."""
    tr, va = data.tr, data.va
    y, users = tr.y[data.rows], tr.row_users()[data.rows]

    def fit(point: dict[str, Any]) -> tuple[float, tuple[DeepForest, np.ndarray, float, float]]:
        t = time.time()
        forest = DeepForest(
            cfg.window,
            cfg.stride,
            point["n_trees"],
            point["n_trees"],
            point["max_depth"],
            cfg.forest_layers,
            random_state=seed,
        ).fit(data.Xtr, y, users, X_val, va.y, pr_auc, data.w)
        fit_s, t = time.time() - t, time.time()
        p_val = forest.predict_proba(X_val)  # timed: what serving a pair costs
        return pr_auc(va.y, p_val), (forest, p_val, fit_s, time.time() - t)

    def describe(m: tuple[DeepForest, np.ndarray, float, float]) -> dict[str, Any]:
        forest, _, fit_s, score_s = m
        return {
            "levels": forest.n_levels,
            "level_val_pr_auc": forest.level_val_pr_auc_,
            "us_per_pair": round(score_s / max(va.n, 1) * 1e6, 2),
        }

    if "forest" in tuned:
        axes = [Axis("max_depth", (tuned["forest"][0],), bounded(DEPTHS))]
        axes.append(Axis("n_trees", (tuned["forest"][1],), bounded(TREES)))
        steps = 0
    else:
        axes = [
            Axis("max_depth", cfg.forest_depths, bounded(_ladder(DEPTHS, cfg.forest_depths))),
            Axis("n_trees", cfg.forest_trees, bounded(_ladder(TREES, cfg.forest_trees))),
        ]
        steps = 0 if cfg.quick else 3
    search = GridSearch(axes, max_steps=steps, budget_s=cfg.forest_budget_s, cost=_cost).run(fit, describe)
    forest, p_val, _, _ = search.best_model
    tuned.setdefault("forest", (search.best["max_depth"], search.best["n_trees"]))
    return forest, p_val, {"points": search.curve, "ended": search.ended if steps else "refit"}


def _cost(point: dict[str, Any], curve: list[dict[str, Any]]) -> float:
    """A point's expected seconds: the fitted points' scaled by trees and by the square
    root of the depth (a shallower or smaller forest is cheap to try).

    >>> _cost({"max_depth": 8, "n_trees": 10}, [{"max_depth": 8, "n_trees": 20, "fit_s": 30.0}])
    15.0
    """

    def size(p: dict[str, Any]) -> float:
        depth = 40 if p["max_depth"] is None else min(p["max_depth"], 40)
        return float(p["n_trees"] * depth**0.5)

    return float(np.mean([r["fit_s"] * size(point) / size(r) for r in curve]))


def _ladder(ladder: tuple[Any, ...], start: tuple[Any, ...]) -> tuple[Any, ...]:
    """``ladder`` with the starting values in it (in order, unbounded depth last)."""
    values = set(ladder) | set(start)
    return tuple(sorted(values, key=lambda v: float("inf") if v is None else v))
