"""``intent train``: data -> examples -> every model -> fusion -> artifact + report."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from models.artifact import save_artifact, sha256_file
from models.cold_start import fit_cold_start
from models.forest import DeepForest
from models.fusion import FusedScorer, fuse, resnet_probabilities
from stream.features import FeatureSpec
from stream.readers import read_clickstream
from training.attributes import load_catalogue
from training.baselines import BASELINES, fit_baseline
from training.evaluate import activity_table, best_threshold, classification_metrics, f1_at
from training.examples import DEFAULT_HORIZON_MS, ExampleSet, build_examples
from training.fit_resnet import fit_resnet
from training.sequence_model import fit_sequence_model, score_sequence_model

__all__ = ["TrainConfig", "train", "split_examples", "evaluation_summary"]


@dataclass
class TrainConfig:
    quick: bool = False
    horizon_ms: int = DEFAULT_HORIZON_MS
    n_candidates: int = 16
    train_frac: float = 0.5
    val_frac: float = 0.17
    neg_ratio: int = 10  # sampled negatives per positive for the tabular models
    window: int = 100
    stride: int = 20
    max_depth: int = 40
    depth_sweep: tuple[int, ...] = (4, 10, 20, 40)
    stride_sweep: tuple[int, ...] = (1, 5, 10, 20, 50)
    tree_sweep: tuple[int, ...] = (10, 30, 60)  # trees per scanner and cascade forest
    resnet_epochs: int = 8
    seed: int = 0
    progress: bool = True

    def scaled(self) -> "TrainConfig":
        if self.quick:
            self.depth_sweep, self.stride_sweep, self.tree_sweep = (4, 20), (10, 50), (5, 10)
            self.resnet_epochs = 3
        return self


def split_examples(ex: ExampleSet, n_events: int, cfg: TrainConfig) -> tuple[ExampleSet, ExampleSet, ExampleSet]:
    """Time split by replay position; train moments whose horizon reaches into
    validation are dropped (an embargo), so no label straddles the boundary."""
    pos = ex.moment_index / max(n_events, 1)
    in_train = pos < cfg.train_frac
    cut_ts = ex.moment_ts[in_train].max(initial=0)
    train = in_train & (ex.moment_ts <= cut_ts - cfg.horizon_ms)
    val = (pos >= cfg.train_frac) & (pos < cfg.train_frac + cfg.val_frac)
    test = pos >= cfg.train_frac + cfg.val_frac
    return ex.select_groups(train), ex.select_groups(val), ex.select_groups(test)


def _subsample(y: np.ndarray, ratio: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(y == 1)
    neg = np.flatnonzero(y == 0)
    keep = min(len(neg), max(ratio * len(pos), 2000))
    return np.sort(np.concatenate([pos, rng.choice(neg, keep, replace=False)]))


def fingerprint(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def evaluation_summary(
    ex: ExampleSet, scores: dict[str, np.ndarray], thresholds: dict[str, float]
) -> dict[str, Any]:
    """The ``--json`` object of ``intent train`` and ``intent evaluate``."""
    in_cands = [c for _, c in ex.purchases]
    return {
        "models": {name: classification_metrics(ex.y, p, thresholds[name]) for name, p in scores.items()},
        "n_examples": int(ex.n),
        "positive_rate": round(float(ex.y.mean()), 6) if ex.n else 0.0,
        "candidate_recall": round(sum(in_cands) / len(in_cands), 4) if in_cands else None,
    }


def train(
    data: list[str | Path], out: Path, fmt: str | None = None, cfg: TrainConfig | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train everything and write the artifact; returns the report dict."""
    cfg = (cfg or TrainConfig()).scaled()
    t0 = time.time()
    timings: dict[str, float] = {}

    def step(name: str, since: float) -> float:
        timings[name] = round(time.time() - since, 2)
        log(f"  {name}: {timings[name]:.1f}s")
        return time.time()

    read = read_clickstream(data, fmt)
    if not read.events:
        raise ValueError("the data set holds no usable events")
    catalogue = load_catalogue(read.files)
    spec = FeatureSpec()
    log(f"read {len(read.events):,} events from {len(read.files)} file(s); skipped {dict(read.skipped)}")
    t = time.time()
    ex = build_examples(read.events, catalogue, spec, cfg.n_candidates, cfg.horizon_ms, cfg.progress)
    t = step("build examples", t)
    tr, va, te = split_examples(ex, len(read.events), cfg)
    # candidate recall is over the purchases inside each split
    n_ev = len(read.events)
    lo, hi = cfg.train_frac + cfg.val_frac, 1.0
    te.purchases = [(k, c) for k, c in ex.purchases if lo * n_ev <= k < hi * n_ev]
    log(f"examples: train {tr.n:,} (pos {int(tr.y.sum())}), val {va.n:,} (pos {int(va.y.sum())}), "
        f"test {te.n:,} (pos {int(te.y.sum())})")
    if tr.y.sum() == 0 or va.y.sum() == 0:
        raise ValueError("too few purchases to train: train and validation splits need positives")

    Xtr, Xva, Xte = (np.hstack([e.U, e.I]) for e in (tr, va, te))
    sub = _subsample(tr.y, cfg.neg_ratio, cfg.seed)
    val_scores: dict[str, np.ndarray] = {}
    test_scores: dict[str, np.ndarray] = {}
    for name in BASELINES:
        model = fit_baseline(name, Xtr[sub], tr.y[sub], cfg.quick)
        val_scores[name], test_scores[name] = model.score(Xva), model.score(Xte)
        t = step(f"fit {name}", t)

    seq_model = fit_sequence_model(tr.seq[sub], Xtr[sub], tr.y[sub], epochs=2 if cfg.quick else 6)
    val_scores["lstm_attention"] = score_sequence_model(seq_model, va.seq, Xva)
    test_scores["lstm_attention"] = score_sequence_model(seq_model, te.seq, Xte)
    t = step("fit lstm_attention", t)

    resnet, losses = fit_resnet(tr, cfg.n_candidates, epochs=cfg.resnet_epochs, seed=cfg.seed,
                                progress=cfg.progress)
    val_scores["resnet"] = resnet_probabilities(resnet, va.U, va.I, va.sizes)
    test_scores["resnet"] = resnet_probabilities(resnet, te.U, te.I, te.sizes)
    t = step("fit resnet", t)

    trees = (10, 20) if cfg.quick else (30, 50)

    def forest_point(stride: int, n_trees: int, cascade_trees: int, depth: int) -> dict[str, Any]:
        """Fit a small deep forest; its cost per scored pair and validation accuracy."""
        tf = time.time()
        f = DeepForest(cfg.window, stride, n_trees, cascade_trees, depth, max_layers=2,
                       random_state=cfg.seed).fit(Xtr[sub], tr.y[sub])
        fit_s, ts = time.time() - tf, time.time()
        pv = f.predict_proba(Xva)
        return {"windows": len(f.scanner.starts_), "fit_s": round(fit_s, 2),
                "us_per_pair": round((time.time() - ts) / max(len(Xva), 1) * 1e6, 1),
                "val_f1": round(f1_at(va.y, pv, best_threshold(va.y, pv)), 4),
                "val_pr_auc": classification_metrics(va.y, pv, 0.5)["pr_auc"]}

    half = (trees[0] // 2, trees[1] // 2)
    depth_curve = [{"max_depth": d, **forest_point(max(cfg.stride, 10), *half, d)} for d in cfg.depth_sweep]
    t = step("forest depth sweep", t)
    stride_curve = [{"stride": st, **forest_point(st, *half, cfg.max_depth)} for st in cfg.stride_sweep]
    t = step("forest stride sweep", t)
    tree_curve = [{"n_trees": n, **forest_point(cfg.stride, n, n, cfg.max_depth)} for n in cfg.tree_sweep]
    t = step("forest tree-count sweep", t)

    forest = DeepForest(cfg.window, cfg.stride, *trees, cfg.max_depth, random_state=cfg.seed)
    forest.fit(Xtr[sub], tr.y[sub])
    val_scores["deep_forest"] = forest.predict_proba(Xva)
    test_scores["deep_forest"] = forest.predict_proba(Xte)
    t = step("fit deep forest", t)

    weight_curve = []
    best = (-1.0, 0.0, 0.5)
    for w_r in np.round(np.linspace(0, 1, 21), 2):
        p = fuse(val_scores["resnet"], val_scores["deep_forest"], float(w_r))
        thr = best_threshold(va.y, p)
        f1 = f1_at(va.y, p, thr)
        weight_curve.append({"w_r": float(w_r), "val_f1": round(f1, 4), "threshold": round(thr, 6)})
        if f1 > best[0]:
            best = (f1, float(w_r), thr)
    _, w_r, _ = best
    val_scores["fused_no_prior"] = fuse(val_scores["resnet"], val_scores["deep_forest"], w_r)
    test_scores["fused_no_prior"] = fuse(test_scores["resnet"], test_scores["deep_forest"], w_r)
    cold_prior, cold_curve = fit_cold_start(tr.U, tr.I, tr.y, va.U, va.I, va.y, val_scores["fused_no_prior"])
    val_scores["fused"] = cold_prior.apply(val_scores["fused_no_prior"], va.U, va.I)
    test_scores["fused"] = cold_prior.apply(test_scores["fused_no_prior"], te.U, te.I)
    t_p = best_threshold(va.y, val_scores["fused"])
    t = step("fit cold-start prior", t)
    thresholds = {name: (t_p if name == "fused" else best_threshold(va.y, p))
                  for name, p in val_scores.items()}
    summary = evaluation_summary(te, test_scores, thresholds)
    summary["validation"] = {n: classification_metrics(va.y, p, thresholds[n]) for n, p in val_scores.items()}

    files = read.files
    version = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + fingerprint(files)[:8]
    scorer = FusedScorer(resnet, forest, w_r, t_p, version, cold_prior)
    report = {
        **summary,
        "model_version": version,
        "data": {"files": [str(f) for f in files], "n_events": len(read.events),
                 "skipped": dict(read.skipped), "users": len({e.user_id for e in read.events})},
        "split": {"train": tr.n, "val": va.n, "test": te.n,
                  "train_pos": int(tr.y.sum()), "val_pos": int(va.y.sum()), "test_pos": int(te.y.sum()),
                  "train_sampled": int(len(sub))},
        "fusion": {"w_r": w_r, "w_f": round(1 - w_r, 4), "threshold": t_p,
                   "cold_start_weight": cold_prior.weight},
        "by_activity": activity_table(te, test_scores, thresholds),
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg).items()},
        "curves": {"resnet_loss": losses, "forest_depth": depth_curve,
                   "forest_stride": stride_curve, "forest_trees": tree_curve, "fusion_weight": weight_curve,
                   "cold_start_weight": cold_curve},
        "timings_s": timings,
    }
    from training.report import render_report

    report["timings_s"]["total"] = round(time.time() - t0, 1)
    extra_files = render_report(report, te.y, test_scores)
    save_artifact(
        Path(out), scorer, catalogue, spec,
        {"training_data": {"files": [f.name for f in files], "fingerprint": fingerprint(files),
                           "n_events": len(read.events), "horizon_ms": cfg.horizon_ms},
         "metrics": summary["models"]},
        extra_files,
    )
    log(f"wrote {out} (model {version}) in {report['timings_s']['total']:.0f}s")
    return report
