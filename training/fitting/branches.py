"""The fused model's branches for one seed: the ResNet, the deep forest (depth and trees
chosen on validation, :mod:`training.fitting.forest`), each calibrated on validation
(Platt), ``w_r`` chosen on validation, the cold-start prior (fitted on the cold replay's
training days, its weight chosen on the cold replay of validation), and the served
threshold ``t_p`` set for its purpose (a volume: see :class:`~training.config.TrainConfig`'s
``intent_budget``); their scores on validation and on every judged part.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from models.calibration import PlattCalibrator
from models.cold_start import fit_cold_start
from models.fusion import FusedScorer, fuse
from training.config import TrainConfig
from training.fitting.forest import fit_forest
from training.fitting.resnet import fit_resnet, score_resnet
from training.fitting.seed_run import SeedRun, TrainingData, chunked
from training.protocol.budget import DayPairs
from training.protocol.metrics import pr_auc
from training.protocol.stages import Stages

__all__ = ["fit_branches", "served_threshold"]


def served_threshold(pairs: DayPairs, p_val: np.ndarray, budget: float) -> float:
    """``t_p``: the cut that, on validation, sends ``budget`` x the day's active users pairs a day."""
    return pairs.volume_threshold(p_val, budget)


def fit_branches(
    run: SeedRun,
    cfg: TrainConfig,
    data: TrainingData,
    tuned: dict[str, Any],
    stage: Stages,
    log: Callable[[str], None],
) -> None:
    """The ResNet and the deep forest of one seed, calibrated and fused (into ``run``)."""
    seed, tr, va = run.seed, data.tr, data.va
    parts = {"val": va, **data.judged()}
    if "val" in data.cold:
        parts["cold_val"] = data.cold["val"]
    with stage(f"seed {seed}: resnet"):
        t = time.time()
        resnet, curves = fit_resnet(
            tr,
            va,
            cfg.n_candidates,
            max_epochs=cfg.resnet_epochs,
            patience=cfg.resnet_patience,
            seed=seed,
            log=log if cfg.progress else None,
            sample_weights=data.w is not None,
        )
        raw_r = {"val": score_resnet(resnet, va)}
        resnet_s, t = time.time() - t, time.time()
        raw_r["test"] = score_resnet(resnet, data.te)
        resnet_test_s = time.time() - t
        raw_r.update({k: score_resnet(resnet, ex) for k, ex in parts.items() if k not in raw_r})
        run.cost("resnet", resnet_s, resnet_test_s, data.te.n)
        run.fitted("resnet", epochs=len(curves["val_pr_auc"]), kept_epoch=curves["kept_epoch"])
        run.notes["resnet_curves"] = curves
    with stage(f"seed {seed}: deep forest"):
        t = time.time()
        forest, p_val, sweep = fit_forest(cfg, data, seed, tuned, va.X())
        raw_f = {"val": p_val}
        forest_s, t = time.time() - t, time.time()
        raw_f["test"] = chunked(data.te, lambda e, gs, rs: forest.predict_proba(e.X(rs)))
        forest_test_s = time.time() - t
        for k, ex in parts.items():
            if k not in raw_f:
                raw_f[k] = chunked(ex, lambda e, gs, rs: forest.predict_proba(e.X(rs)))
        run.cost("deep_forest", forest_s, forest_test_s, data.te.n)
        run.fitted(
            "deep_forest", levels=forest.n_levels, max_depth=forest.max_depth, n_trees=forest.cascade_trees
        )
        run.notes["forest_sweep"] = sweep
    with stage(f"seed {seed}: calibration and fusion"):
        t_fusion = time.time()
        cal = (PlattCalibrator.fit(raw_r["val"], va.y), PlattCalibrator.fit(raw_f["val"], va.y))
        c = {k: (cal[0](raw_r[k]), cal[1](raw_f[k])) for k in parts}
        curve, best_w = [], (-1.0, 0.0)
        for w_r in np.round(np.linspace(0, 1, 21), 2):
            score = pr_auc(va.y, fuse(*c["val"], float(w_r)))
            curve.append({"w_r": float(w_r), "val_pr_auc": round(score, 5)})
            if score > best_w[0] + 1e-9:
                best_w = (score, float(w_r))
        w_r = best_w[1]
        # the cold-start prior: fitted on the cold replay's training days, weighed on its validation day
        cold_tr, cold_va = data.cold.get("train", tr), data.cold.get("val", va)
        cold_key = "cold_val" if "cold_val" in c else "val"
        cold_prior, cold_curve = fit_cold_start(
            cold_tr.U_rows(),
            cold_tr.I,
            cold_tr.y,
            cold_va.U_rows(),
            cold_va.I,
            cold_va.y,
            fuse(*c[cold_key], w_r),
            cold_tr.weights() if data.w is not None else None,
        )
        scorer = FusedScorer(resnet, forest, w_r, 0.5, "unversioned", cold_prior, cal)
        combine_s = 0.0
        for name, ex in parts.items():
            c_r, c_f = c[name]
            t = time.time()
            # chunked calls the lambda before the loop moves on: the loop variables are current
            fused = chunked(ex, lambda e, gs, rs: scorer.combine(c_r[rs], c_f[rs], e.U_rows(rs), e.I[rs]))  # noqa: B023
            if name == "test":
                combine_s = time.time() - t
            if name == "cold_val":
                run.notes["cold_val_fused"] = fused
                continue
            scores = {
                "resnet": c_r,
                "deep_forest": c_f,
                "fused_no_prior": fuse(c_r, c_f, w_r),
                "fused": fused,
            }
            for model, s in scores.items():
                if name == "val":
                    run.val[model] = s
                else:
                    run.judged.setdefault(name, {})[model] = s
        # the fused model: both branches, their calibration and fusion, the cold-start prior
        run.cost(
            "fused",
            resnet_s + forest_s + time.time() - t_fusion - combine_s,
            resnet_test_s + forest_test_s + combine_s,
            data.te.n,
        )
        scorer.threshold = served_threshold(data.val_pairs, run.val["fused"], cfg.intent_budget)
        run.scorer = scorer
        run.notes.update(
            fusion_curve=curve,
            w_r=w_r,
            threshold=scorer.threshold,
            cold_start_weight=cold_prior.weight,
            cold_start_curve=cold_curve,
            calibration={"resnet": cal[0].to_dict(), "deep_forest": cal[1].to_dict()},
        )
