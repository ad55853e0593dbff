"""``intent train``: data -> examples -> every model, several seeds -> fusion -> artifact + report.

Stages, each timed and its peak memory printed:

1. read the clickstream; cut the calendar split (:mod:`training.splits`);
2. replay it into examples (:mod:`training.examples`): every validation and test
   moment, the training moments with a purchase and ``neg_group_rate`` of the others;
3. the tabular rows: every positive training row and ``neg_ratio`` negatives per
   positive, the SAME rows for every model fitted on rows (baselines, the reference
   networks, the deep forest); the ResNet takes the training part's whole catalogues;
   the networks' inputs (scaled [U, I], sequences, the training period's interaction
   graph as of each row) built once for every network and seed;
4. per seed (``seeds``, each passed to every model): the baselines, tuned on the
   validation split with the first seed and refitted with the others; the reference
   networks (:mod:`training.networks`: MLP, CNN, LSTM, LSTM-attention, LSTM-attention
   + graph attention; early stopping on validation); the ResNet branch; the deep forest
   (depth and trees tuned like the baselines); each branch calibrated on validation,
   then ``w_r`` and ``t_p`` chosen on validation; the cold-start prior. Every trained
   model's training seconds and its microseconds per test pair are recorded (``cost``);
5. every model's threshold chosen on validation (F1), then the test split judged by
   :func:`training.evaluation.summarize`: intervals by user, paired differences;
6. the served model (the first seed's fusion) written as the artifact, with the report.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from models.artifact import save_artifact, sha256_file
from models.calibration import PlattCalibrator
from models.cold_start import fit_cold_start
from models.forest import DeepForest
from models.fusion import FusedScorer, fuse
from stream.domain.features import FeatureSpec
from stream.domain.labels import DEFAULT_HORIZON_MS
from stream.domain.readers import read_clickstream
from training.attributes import load_catalogue
from training.baselines import BASELINES, Baseline, fit_baseline, tune_baseline
from training.evaluation import summarize
from training.examples import SEQ_LEN, ExampleSet, build_examples
from training.fit_networks import NetworkData, fit_and_score
from training.fit_resnet import fit_resnet, score_resnet
from training.interaction_graph import InteractionGraph
from training.metrics import best_threshold, pr_auc
from training.networks import NETWORKS
from training.rules import RULES
from training.splits import CalendarSplit, fitting_horizon
from training.stages import Stages, peak_rss_mb

__all__ = ["TrainConfig", "train", "fingerprint", "tabular_rows"]

#: Models the per-activity table gives intervals for (the rest: point figures).
BUCKET_MODELS = ("fused", "resnet", "deep_forest", "lightgbm", "random_forest", "cart_rule", *NETWORKS)
DETERMINISTIC = ("logistic_regression", "linear_svm")  # the seed changes nothing: fitted once
ROW_BYTES = FeatureSpec().item_dim * 4 + 2 * SEQ_LEN + 1  # I, the two sequence masks, the label


@dataclass
class TrainConfig:
    quick: bool = False
    horizon_ms: int = DEFAULT_HORIZON_MS  # shortened when validation or test is too short for it
    n_candidates: int = 32
    val_days: int | None = None  # default: 1/9 of the active days (at least 1)
    test_days: int | None = None  # default: 2/9 of them (at least 1)
    # Training moments without a purchase that are kept. Few are better than many on
    # Taobao's validation day (hard negatives, the other candidates of a buying moment,
    # teach more than random idle moments), and cheaper: 0.02-0.05 beat 0.1 and 0.5.
    neg_group_rate: float = 0.03
    neg_ratio: int | None = None  # negatives per positive in the row models' rows (None: all)
    seeds: tuple[int, ...] = (0, 1, 2)
    n_boot: int = 300
    window: int = 100
    stride: int = 20
    forest_depths: tuple[int, ...] = (8, 16)
    forest_trees: tuple[int, ...] = (20, 40)
    forest_layers: int = 3
    resnet_epochs: int = 25
    # every reference network (training/networks.py): at most this many epochs, stopped
    # after ``network_patience`` without a better validation PR-AUC. Sized so that the
    # five networks of three seeds fit the full Taobao run in its 20 minutes on 2 cores
    # (an epoch of LSTM-attention: ~5 s, half of it the validation pass); on Taobao the
    # validation curves are flat within the noise after the first epochs.
    network_epochs: int = 6
    network_patience: int = 2
    progress: bool = True

    def scaled(self) -> TrainConfig:
        """Quick mode: one seed, small grids and budgets (for tests and a first look)."""
        if self.quick:
            self.seeds, self.n_boot = self.seeds[:1], min(self.n_boot, 50)
            self.forest_depths, self.forest_trees, self.forest_layers = (8,), (15,), 2
            self.resnet_epochs, self.network_epochs = 4, 2
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)
        }


def fingerprint(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def tabular_rows(y: np.ndarray, ratio: int | None, seed: int) -> np.ndarray:
    """Every positive row and ``ratio`` negatives per positive, at least 2,000 (all when
    fewer, or when ``ratio`` is None), sorted."""
    if ratio is None:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    keep = min(len(neg), max(ratio * len(pos), 2000))
    return np.sort(np.concatenate([pos, rng.choice(neg, keep, replace=False)]))


def _chunked(ex: ExampleSet, fn: Callable[[ExampleSet, slice, slice], np.ndarray]) -> np.ndarray:
    """``fn`` over consecutive groups of ``ex`` (so [U, I] is never built for all rows)."""
    out = np.zeros(ex.n, dtype=np.float32)
    for gs, rs in ex.group_chunks():
        out[rs] = fn(ex, gs, rs)
    return out


def _us_per_pair(seconds: float, n: int) -> float:
    return round(seconds / max(n, 1) * 1e6, 2)


@dataclass
class SeedRun:
    """One seed's models and their scores on validation and test."""

    seed: int
    val: dict[str, np.ndarray] = field(default_factory=dict)
    test: dict[str, np.ndarray] = field(default_factory=dict)
    scorer: FusedScorer | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def cost(self, name: str, train_s: float, test_s: float, n_test: int) -> None:
        """Record a model's training seconds (tuning and validation passes included) and
        its scoring cost per test pair (inputs built and scored in batches)."""
        self.notes.setdefault("cost", {})[name] = {
            "train_s": round(train_s, 1),
            "us_per_pair": _us_per_pair(test_s, n_test),
        }


def _fit_branches(
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
        raw["forest_test"] = _chunked(te, lambda e, gs, rs: forest.predict_proba(e.X(rs)))
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
            # _chunked calls the lambda before the loop moves on: the loop variables are current
            scores["fused"] = _chunked(
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
            run.test[name] = _chunked(te, lambda e, gs, rs: model.score(e.X(rs)))  # noqa: B023 (called now)
            run.cost(name, fit_s, time.time() - t, te.n)
    del Xva
    _fit_networks(run, cfg, nets, ytr, va, te, stage, log)
    _fit_branches(run, cfg, tr, rows, Xtr, va, te, tuned, stage, log)
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
    from training.report import render_report

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
    from training.bootstrap import UserBootstrap

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
