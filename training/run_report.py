"""The run's report dict (``metrics.json``), the artifact's manifest fields and the report files.

Everything ``intent train --json`` prints and the README's results cite comes from the
dict built here from the verdict (:mod:`training.judge`) and the seeds' runs; the
manifest carries the served model's own figures (the ``served`` summary), the seeds'
spread beside them, and what ``intent evaluate --part test`` needs to judge the artifact
on the same test days (the split, the evaluation's settings).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from models.artifact import sha256_file
from models.fusion import fuse
from stream.domain.features import FeatureSpec
from training.config import TrainConfig
from training.fitting.networks.interaction_graph import InteractionGraph
from training.fitting.networks.registry import NETWORKS
from training.fitting.seed_run import SeedRun, TrainingData
from training.judge import SERVED_MODELS
from training.protocol.bootstrap import UserBootstrap
from training.protocol.example_set import SEQ_LEN
from training.protocol.splits import CalendarSplit
from training.protocol.stages import Stages, peak_rss_mb

__all__ = ["run_report", "fingerprint", "THRESHOLD_PURPOSE"]

ROW_BYTES = FeatureSpec().item_dim * 4 + 2 * SEQ_LEN + 1  # I, the two sequence masks, the label
THRESHOLD_PURPOSE = (
    "volume: the cut that, on validation, sends {share} of the day's active users an intent a day "
    "(the top pairs); every model's precision, recall, F1 and purchase recall are read at its own cut "
    "chosen so"
)


def fingerprint(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def _per_seed_fits(runs: list[SeedRun], models: dict[str, Any]) -> None:
    """``rounds`` / ``epochs`` per model, one per seed, into its figures."""
    for run in runs:
        for name, how in run.notes.get("fit", {}).items():
            for key in ("rounds", "epochs"):
                if key in how and name in models:
                    models[name].setdefault(key, []).append(how[key])


def _cost(runs: list[SeedRun], n_test: int) -> dict[str, Any]:
    """Per model, its training seconds and microseconds per test pair, one figure per
    seed it was trained with (the deterministic baselines: once)."""
    out: dict[str, Any] = {"test_rows": n_test, "models": {}}
    for run in runs:
        for name, c in run.notes.get("cost", {}).items():
            m = out["models"].setdefault(name, {"train_s": [], "us_per_pair": []})
            m["train_s"].append(c["train_s"])
            m["us_per_pair"].append(c["us_per_pair"])
    return out


def _fusion_curve_ci(td: TrainingData, runs: list[SeedRun], cfg: TrainConfig) -> list[dict[str, Any]]:
    """Validation PR-AUC of the fusion at each w_r (calibrated branches, over users and
    seeds), with its bootstrap interval."""
    va = td.va
    boot = UserBootstrap(va.y, va.row_users(), n_boot=min(cfg.n_boot, 200), seed=cfg.seeds[0])
    out = []
    for w_r in np.round(np.linspace(0, 1, 11), 2):
        runs_p = [fuse(r.val["resnet"], r.val["deep_forest"], float(w_r)) for r in runs]
        res = boot.run({"f": runs_p}, {"f": [0.5] * len(runs_p)}, metrics=("pr_auc",))["f"]
        out.append({"w_r": float(w_r), "val_pr_auc": res["point"]["pr_auc"], "ci": res["ci"]["pr_auc"]})
    return out


def _scale_note(report: dict[str, Any], n_events: int, stage: Stages) -> dict[str, Any]:
    """What a data set of 2.7 million events (RetailRocket's size) would need, scaled
    linearly from this run's per-event cost (examples and memory grow with events)."""
    build = sum(r["seconds"] for r in stage.rows if r["stage"] in ("build examples", "cold replay"))
    target = 2_700_000
    factor = target / max(n_events, 1)
    rows = report["split"]["val"] + report["split"]["test"]
    return {
        "events": n_events,
        "target_events": target,
        "build_s_per_1k_events": round(build / max(n_events, 1) * 1000, 3),
        "eval_rows_per_event": round(rows / max(n_events, 1), 2),
        "projected_build_s": round(build * factor),
        "projected_eval_rows": int(rows * factor),
        "projected_eval_gb": round(rows * factor * ROW_BYTES / 1e9, 1),
        "total_s": stage.total(),
        "peak_rss_mb": round(peak_rss_mb()),
        "projected_total_s": round(stage.total() * factor),
    }


def run_report(
    verdict: dict[str, Any],
    runs: list[SeedRun],
    td: TrainingData,
    cfg: TrainConfig,
    split: CalendarSplit,
    read: Any,
    stage: Stages,
    *,
    version: str,
    served_at: int,
    served_val: list[float],
    weights: dict[str, Any],
    warnings: list[str],
    graph: InteractionGraph,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, bytes]]:
    """The report dict, the manifest's fields, and the report's files (``report.md``,
    ``metrics.json``, plots)."""
    from training.protocol.report import render_report

    test, first, served_run = verdict["test"], runs[0].notes, runs[served_at]
    tr, va, te = td.tr, td.va, td.te
    _per_seed_fits(runs, test["models"])
    served_notes = served_run.notes
    purpose = THRESHOLD_PURPOSE.format(share=f"{cfg.intent_budget:.0%}")
    fused_seeds = test.get("seed_figures", {}).get("fused", {})
    served = {
        **verdict["served"],
        "seed": served_run.seed,
        "chosen_by": {"rule": "the best validation PR-AUC of the fused model", "val_pr_auc": served_val},
        "threshold": served_run.scorer.threshold if served_run.scorer else None,
        "threshold_purpose": purpose,
        "seed_spread": {m: fused_seeds.get(m, []) for m in ("pr_auc", "roc_auc", "purchase_recall")},
    }
    cold = dict(verdict.get("cold", {}))
    if cold:
        cold.pop("by_activity", None)
        cold["resets"] = "every user's state emptied at each day's start (and at each part's start)"
        cold["cold_start_weight"] = served_notes["cold_start_weight"]
    report: dict[str, Any] = {
        **test,
        "validation": verdict["val"]["models"],
        "served": served,
        "cold_replay": cold,
        "thresholds": {"purpose": purpose, "per_model": verdict["thresholds"]},
        "model_version": version,
        "warnings": warnings,
        "data": {
            "files": [str(f) for f in read.files],
            "n_events": len(read.events),
            "skipped": dict(read.skipped),
            "users": len({e.user_id for e in read.events}),
            "purchases": sum(e.type == "transaction" for e in read.events),
        },
        "split": {
            **split.to_dict(),
            "train": tr.n,
            "val": va.n,
            "test": te.n,
            "train_pos": int(tr.y.sum()),
            "val_pos": int(va.y.sum()),
            "test_pos": int(te.y.sum()),
            "train_tabular_rows": int(len(td.rows)),
            "val_purchases": len(va.purchases),
            "test_purchases": len(te.purchases),
            "val_candidate_recall": va.purchases.candidate_recall(),
        },
        "sample_weights": weights,
        "seeds": list(cfg.seeds),
        "fusion": {
            "served_seed": served_run.seed,
            "w_r": served_notes["w_r"],
            "w_f": round(1 - served_notes["w_r"], 4),
            "threshold": served_notes["threshold"],
            "threshold_purpose": purpose,
            "cold_start_weight": served_notes["cold_start_weight"],
            "calibration": served_notes["calibration"],
            "per_seed": [
                {"seed": r.seed, "w_r": r.notes["w_r"], "threshold": r.notes["threshold"]} for r in runs
            ],
        },
        "tuning": {
            "params": first.get("params", {}),
            "grids": first.get("grids", {}),
            "forest": first["forest_sweep"],
        },
        "config": cfg.to_dict(),
        "curves": {
            "resnet": [r.notes["resnet_curves"] for r in runs],
            "networks": first.get("network_curves", {}),
            "boosters": first.get("booster_curves", {}),
            "fusion_weight": _fusion_curve_ci(td, runs, cfg),
            "cold_start_weight": served_notes["cold_start_curve"],
        },
        "graph": {
            "users": len(graph.users),
            "items": len(graph.items),
            "edges": len(graph.by_user.nbr),
            "embedded_users": graph.n_users,
            "embedded_items": graph.n_items,
        },
        "cost": _cost(runs, te.n),
        "serving": {n: spec.serving for n, spec in NETWORKS.items()},
    }
    report["timings"] = stage.rows
    report["peak_rss_mb"] = round(peak_rss_mb())
    report["scale"] = _scale_note(report, len(read.events), stage)
    report["total_s"] = stage.total()
    manifest = {
        "training_data": {
            "files": [f.name for f in read.files],
            "fingerprint": fingerprint(read.files),
            "n_events": len(read.events),
            "horizon_ms": cfg.horizon_ms,
        },
        # the served model's own figures on the test days, and the seeds' spread beside them
        "metrics": served["models"],
        "metrics_ci": served.get("ci", {}),
        "seed_spread": served["seed_spread"],
        "served_seed": served_run.seed,
        "thresholds": {n: round(float(verdict["thresholds"][n][served_at]), 8) for n in SERVED_MODELS},
        "threshold_purpose": purpose,
        # followed by ``intent train --serve`` (the served model's configuration)
        "sample_weights": {k: weights[k] for k in ("mode", "used", "reason") if k in weights},
        "split": split.to_dict(),
        "evaluation": {
            "n_boot": cfg.n_boot,
            "seed": cfg.seeds[0],
            "budgets": list(cfg.budgets),
            "day_offset_ms": read.day_offset_ms,
        },
    }
    files = render_report(report, te.y, {n: served_run.test[n] for n in served_run.test})
    return report, manifest, files
