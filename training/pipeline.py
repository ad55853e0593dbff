"""``intent train``: data -> examples -> every model, several seeds -> fusion -> artifact + report.

Stages, each timed and its peak memory printed:

1. read the clickstream; cut the calendar split (:mod:`training.protocol.splits`);
2. replay it into examples (:mod:`training.protocol.examples`): every validation and test
   moment, the training moments with a purchase and ``neg_group_rate`` of the others;
3. the tabular rows: every positive training row and ``neg_ratio`` negatives per
   positive, the SAME rows for every model fitted on rows (baselines, the reference
   networks, the deep forest); the ResNet takes the training part's whole catalogues;
   the networks' inputs (scaled [U, I], sequences, the training period's interaction
   graph as of each row) built once for every network and seed;
4. per seed (``seeds``, each passed to every model): the baselines, tuned on the
   validation split with the first seed and refitted with the others; the reference
   networks (:mod:`training.fitting.networks`: MLP, CNN, LSTM, LSTM-attention, LSTM-attention
   + graph attention; early stopping on validation); the ResNet branch; the deep forest
   (depth and trees tuned like the baselines); each branch calibrated on validation,
   then ``w_r`` and ``t_p`` chosen on validation; the cold-start prior. Every trained
   model's training seconds and its microseconds per test pair are recorded (``cost``);
5. every model's threshold chosen on validation (F1), then the test split judged by
   :func:`training.protocol.evaluation.summarize`: intervals by user, paired differences;
6. the served model (the first seed's fusion) written as the artifact, with the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from models.artifact import save_artifact
from models.fusion import fuse
from stream.domain.features import FeatureSpec
from stream.domain.readers import read_clickstream
from training.fitting.baselines import BASELINES, Baseline, fit_baseline, tune_baseline
from training.fitting.branches import fit_branches
from training.fitting.networks import NETWORKS
from training.fitting.networks.fit import NetworkData, fit_and_score
from training.fitting.networks.interaction_graph import InteractionGraph
from training.fitting.rules import RULES
from training.fitting.seed_run import SeedRun, TrainConfig, chunked, fingerprint, tabular_rows
from training.protocol.attributes import load_catalogue
from training.protocol.evaluation import summarize
from training.protocol.examples import SEQ_LEN, ExampleSet, build_examples
from training.protocol.metrics import best_threshold
from training.protocol.splits import CalendarSplit, fitting_horizon
from training.protocol.stages import Stages, peak_rss_mb

__all__ = ["TrainConfig", "train", "fingerprint", "tabular_rows"]

#: Models the per-activity table gives intervals for (the rest: point figures).
BUCKET_MODELS = ("fused", "resnet", "deep_forest", "lightgbm", "random_forest", "cart_rule", *NETWORKS)
DETERMINISTIC = ("logistic_regression", "linear_svm")  # the seed changes nothing: fitted once
ROW_BYTES = FeatureSpec().item_dim * 4 + 2 * SEQ_LEN + 1  # I, the two sequence masks, the label


def _fit_networks(
    run: SeedRun,
    cfg: TrainConfig,
    nets: NetworkData,
    ytr: np.ndarray,
    va: ExampleSet,
    te: ExampleSet,
    stage: Stages,
    log: Callable[[str], None],
) -> None:
    """Every reference network of one seed, on the inputs built once (into ``run``)."""
    for name in NETWORKS:
        with stage(f"seed {run.seed}: {name}"):
            res = fit_and_score(
                name,
                nets,
                ytr,
                va.y,
                te,
                cfg.network_epochs,
                cfg.network_patience,
                run.seed,
                log if cfg.progress else None,
            )
            run.val[name], run.test[name] = res.fit.val_scores, res.test
            run.cost(name, res.fit.seconds, res.test_s, te.n)
            run.notes.setdefault("network_curves", {})[name] = res.fit.curve


def _fit_seed(
    seed: int,
    cfg: TrainConfig,
    tr: ExampleSet,
    rows: np.ndarray,
    Xtr: np.ndarray,
    va: ExampleSet,
    te: ExampleSet,
    nets: NetworkData,
    tuned: dict[str, Any],
    stage: Stages,
    log: Callable[[str], None],
    first: SeedRun | None,
) -> SeedRun:
    run = SeedRun(seed)
    ytr = tr.y[rows]
    Xva = va.X()  # the baselines' validation rows; the branches build their own in turn
    for name in BASELINES:
        with stage(f"seed {seed}: {name}"):
            if first is not None and name in DETERMINISTIC:
                run.val[name], run.test[name] = first.val[name], first.test[name]
                continue
            t = time.time()
            if name in tuned:
                model: Baseline = fit_baseline(name, tuned[name], Xtr, ytr, Xva, va.y, seed, cfg.quick)
            else:
                model, grid = tune_baseline(name, Xtr, ytr, Xva, va.y, seed, cfg.quick)
                tuned[name] = {k: v for k, v in model.params.items() if k != "rounds"}
                run.notes.setdefault("grids", {})[name] = grid
            run.notes.setdefault("params", {})[name] = model.params
            run.val[name] = model.score(Xva)
            fit_s, t = time.time() - t, time.time()
            run.test[name] = chunked(te, lambda e, gs, rs: model.score(e.X(rs)))  # noqa: B023 (called now)
            run.cost(name, fit_s, time.time() - t, te.n)
    del Xva
    _fit_networks(run, cfg, nets, ytr, va, te, stage, log)
    fit_branches(run, cfg, tr, rows, Xtr, va, te, tuned, stage, log)
    return run


def train(
    data: list[str | Path],
    out: Path,
    fmt: str | None = None,
    cfg: TrainConfig | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train everything and write the artifact; returns the report dict."""
    cfg = (cfg or TrainConfig()).scaled()
    stage = Stages(log)
    with stage("read data"):
        read = read_clickstream(data, fmt)
        if not read.events:
            raise ValueError("the data set holds no usable events")
        catalogue = load_catalogue(read.files)
        spec = FeatureSpec()
        times = [e.ts for e in read.events]
        split = CalendarSplit.from_times(
            times, cfg.horizon_ms, read.day_offset_ms, cfg.val_days, cfg.test_days
        )
        horizon = fitting_horizon(split, times, cfg.horizon_ms)
        if horizon != cfg.horizon_ms:
            log(
                f"validation or test lasts under four horizons: horizon {cfg.horizon_ms // 60_000} -> "
                f"{horizon // 60_000} minutes"
            )
            cfg.horizon_ms = horizon
            split = replace(split, embargo_ms=horizon)
        del times
    log(
        f"read {len(read.events):,} events from {len(read.files)} file(s); skipped {dict(read.skipped)}; "
        f"active days train/val/test {split.days}; horizon {cfg.horizon_ms // 60_000} minutes"
    )
    with stage("build examples"):

        def progress(done: int, total: int) -> None:
            if cfg.progress and done and done % 100_000 < 20_000:
                log(f"    replayed {done:,} of {total:,} events")

        parts = build_examples(
            read.events,
            catalogue,
            spec,
            cfg.n_candidates,
            cfg.horizon_ms,
            split,
            cfg.neg_group_rate,
            cfg.seeds[0],
            progress,
        )
    tr, va, te = parts["train"], parts["val"], parts["test"]
    log(
        f"examples: train {tr.n:,} rows kept (pos {int(tr.y.sum())}), val {va.n:,} (pos {int(va.y.sum())}), "
        f"test {te.n:,} (pos {int(te.y.sum())}); test purchases {len(te.purchases)}, candidate recall "
        f"{te.purchases.candidate_recall()} of a ceiling {te.purchases.touched_share()}"
    )
    if tr.y.sum() < 2 or va.y.sum() == 0:
        raise ValueError(
            "too few purchases to train: the train and validation splits need positives "
            f"(train {int(tr.y.sum())}, validation {int(va.y.sum())})"
        )
    rows = tabular_rows(tr.y, cfg.neg_ratio, cfg.seeds[0])
    with stage("network inputs"):
        Xtr = tr.X(rows)
        # the training period's graph: no validation or test event ever enters it
        graph = InteractionGraph.from_events(read.events, split.val_start)
        nets = NetworkData.build(tr, rows, Xtr, va, graph)
    log(
        f"interaction graph (training period): {graph.n_users:,} users, {graph.n_items:,} items, "
        f"{len(graph.by_user.nbr):,} edges"
    )
    tuned: dict[str, Any] = {}
    runs: list[SeedRun] = []
    for seed in cfg.seeds:
        runs.append(
            _fit_seed(seed, cfg, tr, rows, Xtr, va, te, nets, tuned, stage, log, runs[0] if runs else None)
        )
    del nets, Xtr
    with stage("evaluate on test"):
        for name, rule in RULES.items():
            for run in runs:
                run.val[name], run.test[name] = rule(va.I), rule(te.I)
        names = list(runs[0].test)
        thresholds = {
            n: [
                run.scorer.threshold if n == "fused" and run.scorer else best_threshold(va.y, run.val[n])
                for run in runs
            ]
            for n in names
        }
        test_summary = summarize(
            te,
            {n: [run.test[n] for run in runs] for n in names},
            thresholds,
            cfg.n_boot,
            cfg.seeds[0],
            BUCKET_MODELS,
        )
        val_summary = summarize(
            va, {n: [run.val[n] for run in runs] for n in names}, thresholds, 0, cfg.seeds[0]
        )
        fusion_ci = _fusion_curve_ci(va, runs, cfg)
    served = runs[0].scorer
    assert served is not None
    files = read.files
    version = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + fingerprint(files)[:8]
    served.model_version = version
    first = runs[0].notes
    report: dict[str, Any] = {
        **test_summary,
        "validation": val_summary["models"],
        "model_version": version,
        "data": {
            "files": [str(f) for f in files],
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
            "train_tabular_rows": int(len(rows)),
            "val_purchases": len(va.purchases),
            "test_purchases": len(te.purchases),
            "val_candidate_recall": va.purchases.candidate_recall(),
        },
        "seeds": list(cfg.seeds),
        "fusion": {
            "w_r": served.w_r,
            "w_f": round(1 - served.w_r, 4),
            "threshold": served.threshold,
            "cold_start_weight": first["cold_start_weight"],
            "calibration": first["calibration"],
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
            "resnet": first["resnet_curves"],
            "networks": first["network_curves"],
            "fusion_weight": fusion_ci,
            "cold_start_weight": first["cold_start_curve"],
        },
        "cost": _cost(runs, te.n),
        "serving": {n: spec.serving for n, spec in NETWORKS.items()},
    }
    report["timings"] = stage.rows
    report["peak_rss_mb"] = round(peak_rss_mb())
    report["scale"] = _scale_note(report, len(read.events), stage)
    from training.protocol.report import render_report

    report["total_s"] = stage.total()
    extra_files = render_report(report, te.y, {n: runs[0].test[n] for n in names})
    save_artifact(
        Path(out),
        served,
        catalogue,
        spec,
        {
            "training_data": {
                "files": [f.name for f in files],
                "fingerprint": fingerprint(files),
                "n_events": len(read.events),
                "horizon_ms": cfg.horizon_ms,
            },
            "metrics": test_summary["models"],
            # the served (first) seed's own thresholds: the metrics above average the seeds'
            "thresholds": {n: round(float(thresholds[n][0]), 8) for n in ("resnet", "deep_forest", "fused")},
        },
        extra_files,
    )
    log(f"wrote {out} (model {version}) in {stage.total():.0f}s, peak RSS {report['peak_rss_mb']:,} MB")
    return report


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


def _fusion_curve_ci(va: ExampleSet, runs: list[SeedRun], cfg: TrainConfig) -> list[dict[str, Any]]:
    """Validation PR-AUC of the fusion at each w_r (calibrated branches, mean over seeds),
    with its bootstrap interval by user."""
    from training.protocol.bootstrap import UserBootstrap

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
    build = next((r["seconds"] for r in stage.rows if r["stage"] == "build examples"), 0.0)
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
