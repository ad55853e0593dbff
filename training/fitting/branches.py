"""The fused model's branches for one seed: the ResNet, the deep forest (depth and trees
chosen on validation), each calibrated on validation (Platt), ``w_r`` and ``t_p`` chosen
on validation, and the cold-start prior; their scores on validation and test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from models.calibration import PlattCalibrator
from models.cold_start import fit_cold_start
from models.forest import DeepForest
from models.fusion import FusedScorer, fuse
from training.fitting.resnet import fit_resnet, score_resnet
from training.fitting.seed_run import SeedRun, TrainConfig, chunked
from training.protocol.examples import ExampleSet
from training.protocol.metrics import best_threshold, pr_auc
from training.protocol.stages import Stages

__all__ = ["fit_branches"]


def fit_branches(
    run: SeedRun,
    cfg: TrainConfig,
    tr: ExampleSet,
    rows: np.ndarray,
    Xtr: np.ndarray,
    va: ExampleSet,
    te: ExampleSet,
    tuned: dict[str, Any],
    stage: Stages,
    log: Callable[[str], None],
) -> None:
    """The ResNet and the deep forest of one seed, calibrated and fused (into ``run``)."""
    seed = run.seed
    with stage(f"seed {seed}: resnet"):
        t = time.time()
        resnet, curves = fit_resnet(
            tr,
            va,
            cfg.n_candidates,
            max_epochs=cfg.resnet_epochs,
            seed=seed,
            log=log if cfg.progress else None,
        )
        raw = {"val": score_resnet(resnet, va)}
        resnet_s = time.time() - t
        t = time.time()
        raw["test"] = score_resnet(resnet, te)
        resnet_test_s = time.time() - t
        run.cost("resnet", resnet_s, resnet_test_s, te.n)
        run.notes["resnet_curves"] = curves
    Xva = va.X()
    with stage(f"seed {seed}: deep forest"):
        t_forest = time.time()
        grid = (
            [(d, n) for d in cfg.forest_depths for n in cfg.forest_trees]
            if "forest" not in tuned
            else [tuned["forest"]]
        )
        fitted: list[tuple[DeepForest, np.ndarray]] = []
        sweep = []
        for depth, trees in grid:
            t = time.time()
            forest = DeepForest(
                cfg.window, cfg.stride, trees, trees, depth, cfg.forest_layers, random_state=seed
            ).fit(Xtr, tr.y[rows], tr.row_users()[rows], Xva, va.y, pr_auc)
            fit_s = time.time() - t
            t = time.time()
            p_val = forest.predict_proba(Xva)  # timed: what serving a pair costs
            score = pr_auc(va.y, p_val)
            sweep.append(
                {
                    "max_depth": depth,
                    "n_trees": trees,
                    "levels": forest.n_levels,
                    "level_val_pr_auc": forest.level_val_pr_auc_,
                    "fit_s": round(fit_s, 1),
                    "us_per_pair": round((time.time() - t) / max(va.n, 1) * 1e6, 2),
                    "val_pr_auc": round(score, 5),
                }
            )
            fitted.append((forest, p_val))
        chosen = int(np.argmax([r["val_pr_auc"] for r in sweep]))
        forest, p_val = fitted[chosen]
        sweep[chosen]["chosen"] = True
        tuned.setdefault("forest", (forest.max_depth, forest.cascade_trees))
        raw["forest_val"] = p_val
        forest_s = time.time() - t_forest
        t = time.time()
        raw["forest_test"] = chunked(te, lambda e, gs, rs: forest.predict_proba(e.X(rs)))
        forest_test_s = time.time() - t
        run.cost("deep_forest", forest_s, forest_test_s, te.n)
        run.notes["forest_sweep"] = sweep
    with stage(f"seed {seed}: calibration and fusion"):
        t_fusion = time.time()
        cal = (PlattCalibrator.fit(raw["val"], va.y), PlattCalibrator.fit(raw["forest_val"], va.y))
        c = {
            "val": (cal[0](raw["val"]), cal[1](raw["forest_val"])),
            "test": (cal[0](raw["test"]), cal[1](raw["forest_test"])),
        }
        curve, best_w = [], (-1.0, 0.0)
        for w_r in np.round(np.linspace(0, 1, 21), 2):
            score = pr_auc(va.y, fuse(*c["val"], float(w_r)))
            curve.append({"w_r": float(w_r), "val_pr_auc": round(score, 5)})
            if score > best_w[0] + 1e-9:
                best_w = (score, float(w_r))
        w_r = best_w[1]
        fused_val = fuse(*c["val"], w_r)
        Urow_tr = tr.U_rows(rows)
        cold_prior, cold_curve = fit_cold_start(
            Urow_tr, tr.I[rows], tr.y[rows], va.U_rows(), va.I, va.y, fused_val
        )
        scorer = FusedScorer(resnet, forest, w_r, 0.5, "unversioned", cold_prior, cal)
        combine_s = 0.0
        for name, ex in (("val", va), ("test", te)):
            c_r, c_f = c[name]
            scores: dict[str, np.ndarray] = getattr(run, name)
            scores["resnet"], scores["deep_forest"] = c_r, c_f
            scores["fused_no_prior"] = fuse(c_r, c_f, w_r)
            t = time.time()
            # chunked calls the lambda before the loop moves on: the loop variables are current
            scores["fused"] = chunked(
                ex,
                lambda e, gs, rs: scorer.combine(c_r[rs], c_f[rs], e.U_rows(rs), e.I[rs]),  # noqa: B023
            )
            combine_s = time.time() - t  # the test part's, the last
        # the fused model: both branches, their calibration and fusion, the cold-start prior
        run.cost(
            "fused",
            resnet_s + forest_s + time.time() - t_fusion - combine_s,
            resnet_test_s + forest_test_s + combine_s,
            te.n,
        )
        scorer.threshold = best_threshold(va.y, run.val["fused"])
        run.scorer = scorer
        run.notes.update(
            fusion_curve=curve,
            w_r=w_r,
            threshold=scorer.threshold,
            cold_start_weight=cold_prior.weight,
            cold_start_curve=cold_curve,
            calibration={"resnet": cal[0].to_dict(), "deep_forest": cal[1].to_dict()},
        )
