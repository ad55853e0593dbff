"""``intent train --serve``: the production refresh, which trains only what is served.

The research protocol (``intent train``) fits sixteen models with three seeds to choose a
model; a nightly refresh needs the chosen one only. This run fits the served model (the
ResNet and deep-forest branches, their Platt calibration, the fusion weight, the cold-start
prior and the threshold) with the very code the protocol fits the served seed with
(:func:`training.fitting.branches.fit_branches`), one seed, in the configuration of the
artifact served now (its seed, its forest's depth, trees and levels, its sample-weight
decision; with nothing served, the start of the protocol's grid that the Taobao run chose:
the deepest and largest forest of it); no baseline, no reference network, no grid walk.
It then judges the new model on the test days with intervals by user
(:func:`training.protocol.evaluation.summarize`, fewer resamples: :data:`SERVE_N_BOOT`),
and scores the served artifact on the same test rows for the paired difference
(:mod:`training.protocol.versus_served`), recorded in the new artifact's manifest as
``serve_run``. Validation and test keep the moments of at most :data:`SERVE_JUDGED_USERS`
users (a hash of the id; every moment of each), and training the moments of at most
:data:`SERVE_TRAINED_USERS` users (another hash; sampled as the protocol samples them),
so that what is fitted and judged, and the time and memory they take, stay bounded as
the shop grows: every event is still replayed (the items' statistics are every user's),
which is the only part that grows with the events. Neither bound binds on Taobao's 814
users; a shop with more users trains on a uniform sample of them, and the manifest
records both shares.

Its stages, timed with the process's peak memory (what ``intent bench --train-scale``
reports): :data:`SERVE_STAGES`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.artifact import LoadedModel, load_artifact, save_artifact
from stream.domain.features import FeatureSpec
from training.config import TrainConfig
from training.fitting.branches import fit_branches
from training.fitting.seed_run import SeedRun, TrainingData
from training.fitting.weights import decide_weights, tabular_rows
from training.judge import SERVED_MODELS
from training.pipeline import cold_resets, read_data
from training.protocol.attributes import load_catalogue
from training.protocol.budget import DayPairs
from training.protocol.evaluation import summarize
from training.protocol.partitioned import build_examples_partitioned
from training.protocol.stages import Stages, peak_rss_mb
from training.protocol.versus_served import compare_with_served
from training.run_report import THRESHOLD_PURPOSE, fingerprint

__all__ = [
    "train_serve",
    "served_choices",
    "SERVE_STAGES",
    "SERVE_N_BOOT",
    "SERVE_JUDGED_USERS",
    "SERVE_TRAINED_USERS",
    "render_serve",
]

SERVE_STAGES = (
    "read",
    "examples",
    "fit resnet",
    "fit forest",
    "calibrate/fuse",
    "evaluate",
    "compare",
    "write",
)
#: users whose validation and test moments are kept (the rest are replayed, not judged):
#: bounds the judged rows (about 800 a user a test day on Taobao) whatever the shop's size
SERVE_JUDGED_USERS = 1_000
#: users whose training moments are kept: bounds the rows the branches are fitted on
#: (about 120 a user on Taobao's six training days; the deep forest's fit grows with them)
SERVE_TRAINED_USERS = 2_500
#: bootstrap resamples of the refresh's intervals (the protocol's 1,000 are for Holm's 15 comparisons)
SERVE_N_BOOT = 200
_BRANCH_STAGES = {
    ": resnet": "fit resnet",
    ": deep forest": "fit forest",
    ": calibration and fusion": "calibrate/fuse",
}


def _stage_name(name: str) -> str:
    """``fit_branches``' stage names as the refresh's (``seed 0: resnet`` -> ``fit resnet``)."""
    return next((to for suffix, to in _BRANCH_STAGES.items() if name.endswith(suffix)), name)


def served_choices(cfg: TrainConfig, served: LoadedModel | None) -> dict[str, Any]:
    """The served model's configuration, taken from the artifact served now when there is one:
    ``seed``, ``sample_seed`` (the training moments' and rows' draws), ``forest`` (depth,
    trees), ``forest_layers``, ``sample_weights`` (mode), ``source``."""
    choices = {
        "seed": cfg.seeds[0],
        "sample_seed": cfg.seeds[0],
        "forest": (cfg.forest_depths[-1], cfg.forest_trees[-1]),
        "forest_layers": cfg.forest_layers,
        "sample_weights": cfg.sample_weights,
        "source": "the configuration's (nothing served to follow)",
    }
    if served is None:
        return choices
    m = served.manifest
    forest = m.get("forest", {})
    choices["seed"] = int(m.get("served_seed", choices["seed"]))
    # the draws of the training moments and rows: the protocol draws them once, with its
    # first seed, for every seed it fits (the manifest's evaluation seed); drawing them with
    # the served seed instead gave another training set, and on the same data a refresh
    # then judged "worse" than the model it refits (a new draw regresses to the seeds' mean)
    choices["sample_seed"] = int(m.get("evaluation", {}).get("seed", choices["seed"]))
    if forest:
        choices["forest"] = (forest.get("max_depth"), int(forest.get("cascade_trees", forest.get("n_trees"))))
        choices["forest_layers"] = int(forest.get("max_layers", cfg.forest_layers))
    used = m.get("sample_weights", {}).get("used")
    if used is not None:
        choices["sample_weights"] = "on" if used else "off"
    choices["source"] = f"the served artifact's ({m.get('model_version')})"
    return choices


def train_serve(
    data: list[str | Path],
    out: Path,
    fmt: str | None = None,
    cfg: TrainConfig | None = None,
    log: Callable[[str], None] = print,
    served: Path | None = None,
) -> dict[str, Any]:
    """Fit, judge and write the served model (``served``: the artifact or registry served now,
    compared with on the test days); returns the run's report (see the module docstring)."""
    cfg = (cfg or TrainConfig()).scaled()
    stage = Stages(log, rename=_stage_name)
    with stage("read"):
        read, split, warnings, n_users = read_data(data, fmt, cfg, log)
        catalogue, spec = load_catalogue(read.files), FeatureSpec()
        old = load_artifact(served) if served is not None else None
    choices = served_choices(cfg, old)
    seed, sample_seed = choices["seed"], choices["sample_seed"]
    cfg.seeds, cfg.n_boot = (seed,), min(cfg.n_boot, SERVE_N_BOOT)
    cfg.forest_layers, cfg.sample_weights = choices["forest_layers"], choices["sample_weights"]
    log(
        f"read {len(read.events):,} events; active {split.unit}s train/val/test {split.days}; "
        f"serving config: seed {seed}, forest {choices['forest']}, {cfg.forest_layers} levels, "
        f"sample weights {cfg.sample_weights} ({choices['source']})"
    )
    share = min(1.0, (cfg.judged_users or SERVE_JUDGED_USERS) / max(n_users, 1))
    trained_share = min(1.0, (cfg.trained_users or SERVE_TRAINED_USERS) / max(n_users, 1))
    if share < 1 or trained_share < 1:
        log(
            f"of the {n_users:,} users (a hash of the id), trained on {trained_share:.1%}, "
            f"validation and test judged on {share:.1%}"
        )
    replay: dict[str, Any] = dict(
        catalogue=catalogue,
        spec=spec,
        n_candidates=cfg.n_candidates,
        horizon_ms=cfg.horizon_ms,
        split=split,
        neg_group_rate=cfg.neg_group_rate,
        seed=sample_seed,
        judged_user_share=share,
        trained_user_share=trained_share,
    )
    with stage("examples"):
        parts = build_examples_partitioned(read.events, cfg.workers, cfg.cluster, **replay)
        tr, va, te = parts["train"], parts["val"], parts["test"]
        if tr.y.sum() < 2 or va.y.sum() == 0:
            raise ValueError(
                "too few purchases to train: the train and validation splits need positives "
                f"(train {int(tr.y.sum())}, validation {int(va.y.sum())})"
            )
        # the cold replay's training and validation days: the cold-start prior and its weight
        resets = cold_resets(split, read.day_offset_ms)
        cold = build_examples_partitioned(
            read.events, cfg.workers, cfg.cluster, reset_at=resets, parts_wanted=("train", "val"), **replay
        )
        rows, w_rows = tabular_rows(tr.y, tr.weights(), cfg.neg_ratio, sample_seed)
        Xtr = tr.X(rows)
        weights = decide_weights(cfg.sample_weights, Xtr, tr.y[rows], w_rows, va.X(), va.y, sample_seed)
        pairs = DayPairs.of_examples(va, read.day_offset_ms)
        td = TrainingData(tr, va, te, rows, Xtr, w_rows if weights["used"] else None, None, pairs, cold)
    log(f"examples: train {tr.n:,} rows kept (pos {int(tr.y.sum())}), val {va.n:,}, test {te.n:,}")
    run = SeedRun(seed)
    fit_branches(run, cfg, td, {"forest": choices["forest"]}, stage, log)
    scorer = run.scorer
    assert scorer is not None
    with stage("evaluate"):
        thresholds = {n: [pairs.volume_threshold(run.val[n], cfg.intent_budget)] for n in SERVED_MODELS}
        thresholds["fused"] = [scorer.threshold]
        test = summarize(
            te,
            {n: [run.test[n]] for n in SERVED_MODELS},
            thresholds,
            cfg.n_boot,
            sample_seed,
            None,
            read.day_offset_ms,
            cfg.budgets,
        )
        test.pop("by_activity", None)
    compared = None
    if old is not None:
        with stage("compare"):

            def rebuild(other_catalogue: Any) -> Any:
                again = {**replay, "catalogue": other_catalogue}
                parts = build_examples_partitioned(
                    read.events, cfg.workers, cfg.cluster, parts_wanted=("test",), **again
                )
                return parts["test"]

            compared = compare_with_served(
                old,
                te,
                run.test["fused"],
                scorer.threshold,
                cfg.n_candidates,
                rebuild,
                catalogue.to_json(),
                cfg.n_boot,
                sample_seed,
            )
        for metric, p in compared.get("paired", {}).items():
            diff = p[f"{metric}_diff"]
            log(f"against {compared['model_version']}: {metric} {p['point']:+.4f} {diff}: {p['reading']}")
    version = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + fingerprint(read.files)[:8]
    scorer.model_version = version
    purpose = THRESHOLD_PURPOSE.format(share=f"{cfg.intent_budget:.0%}")
    serve_run = {
        "test": {k: test[k] for k in ("models", "ci", "n_examples", "n_users", "n_purchases") if k in test},
        "n_boot": cfg.n_boot,
        "judged_user_share": round(share, 6),
        "trained_user_share": round(trained_share, 6),
        "config": {**choices, "forest": list(choices["forest"])},
        "compared_with": compared,
        "stages": list(stage.rows),
    }
    manifest = {
        "training_data": {
            "files": [f.name for f in read.files],
            "fingerprint": fingerprint(read.files),
            "n_events": len(read.events),
            "horizon_ms": cfg.horizon_ms,
        },
        "metrics": test["models"],
        "metrics_ci": test.get("ci", {}),
        "served_seed": seed,
        "thresholds": {n: round(float(thresholds[n][0]), 8) for n in SERVED_MODELS},
        "threshold_purpose": purpose,
        "sample_weights": weights,
        "split": split.to_dict(),
        "evaluation": {
            "n_boot": cfg.n_boot,
            "seed": sample_seed,
            "budgets": list(cfg.budgets),
            "day_offset_ms": read.day_offset_ms,
        },
        "serve_run": serve_run,
    }
    report: dict[str, Any] = {
        "model_version": version,
        "mode": "serve",
        "warnings": warnings,
        "data": {"n_events": len(read.events), "users": n_users},
        "split": {**split.to_dict(), "train": tr.n, "val": va.n, "test": te.n},
        "served": test,
        "fusion": {
            "w_r": run.notes["w_r"],
            "threshold": scorer.threshold,
            "cold_start_weight": scorer.cold_start.weight if scorer.cold_start else None,
        },
        "serve_run": serve_run,
    }
    with stage("write"):
        save_artifact(
            Path(out), scorer, catalogue, spec, manifest, {"report.md": render_serve(report).encode()}
        )
    report["stages"] = [
        {"name": r["stage"], "seconds": r["seconds"], "peak_rss_mb": r["peak_rss_mb"]} for r in stage.rows
    ]
    report["total_s"] = stage.total()
    report["peak_rss_mb"] = round(peak_rss_mb())
    log(f"wrote {out} (model {version}) in {report['total_s']:.0f}s, peak RSS {report['peak_rss_mb']:,} MB")
    return report


def render_serve(report: dict[str, Any]) -> str:
    """The refresh's ``report.md``: the test figures, and the comparison with the served model."""
    test, run = report["served"], report["serve_run"]
    lines = [
        f"# Served model {report['model_version']} (intent train --serve)",
        "",
        f"Test days: {test['n_examples']:,} rows, {test['n_users']:,} users, "
        f"{test['n_purchases']:,} purchases; 95% intervals over users ({run['n_boot']} resamples).",
        "",
        "| model | PR-AUC | ROC-AUC | purchase recall |",
        "|---|---|---|---|",
    ]
    for name, m in test["models"].items():
        ci = test.get("ci", {}).get(name, {})
        cells = [
            f"{m[k]:.4f} {ci.get(k, '')}" if m.get(k) is not None else "—"
            for k in ("pr_auc", "roc_auc", "purchase_recall")
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    compared = run.get("compared_with")
    lines.append("")
    if not compared:
        lines.append("Nothing was served: no comparison.")
    elif "not_compared" in compared:
        lines.append(f"Not compared with {compared['model_version']}: {compared['not_compared']}.")
    else:
        lines.append(
            f"Against the served {compared['model_version']} on the same rows "
            "(new minus served, paired by user):"
        )
        lines.append("")
        for metric, p in compared["paired"].items():
            lo, _, hi = p[f"{metric}_diff"]
            lines.append(f"- {metric}: {p['point']:+.4f}, 95% {lo:+.4f} to {hi:+.4f}: {p['reading']}")
    return "\n".join(lines) + "\n"
