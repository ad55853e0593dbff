"""Every model of one seed, fitted on the same rows with the same sample weights and scored
on validation and on every judged part (:data:`~training.fitting.seed_run.JUDGED`).

The baselines are tuned on validation with the first seed (their grids walked past any
end, :mod:`training.fitting.grids`) and refitted with the others (the boosters choose
their rounds again); the deterministic ones (the linear models) are fitted once. Then the
reference networks (:mod:`training.fitting.networks`), then the fused model's branches
(:mod:`training.fitting.branches`). Every trained model's training seconds and its
microseconds per test pair are recorded (``cost``), and how its fit ended (``fit``:
rounds, epochs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from training.config import TrainConfig
from training.fitting.baselines import BASELINES, Baseline, fit_baseline, tune_baseline
from training.fitting.branches import fit_branches
from training.fitting.networks.fit import fit_and_score
from training.fitting.networks.registry import NETWORKS
from training.fitting.seed_run import SeedRun, TrainingData, chunked
from training.protocol.stages import Stages

__all__ = ["fit_seed", "DETERMINISTIC"]

DETERMINISTIC = ("logistic_regression", "linear_svm")  # the seed changes nothing: fitted once
#: the boosters' validation curves are kept every this many rounds in the report
CURVE_EVERY = 5


def _fit_baselines(
    run: SeedRun,
    cfg: TrainConfig,
    data: TrainingData,
    tuned: dict[str, Any],
    stage: Stages,
    first: SeedRun | None,
) -> None:
    ytr = data.tr.y[data.rows]
    va = data.va
    Xva = va.X()
    for name in BASELINES:
        with stage(f"seed {run.seed}: {name}"):
            if first is not None and name in DETERMINISTIC:
                run.scored(name, first.val[name], {p: s[name] for p, s in first.judged.items()})
                continue
            t = time.time()
            if name in tuned:
                model: Baseline = fit_baseline(
                    name, tuned[name], data.Xtr, ytr, Xva, va.y, run.seed, cfg.quick, data.w
                )
            else:
                model, search = tune_baseline(
                    name, data.Xtr, ytr, Xva, va.y, run.seed, cfg.quick, data.w, cfg.baseline_budget_s
                )
                tuned[name] = {k: v for k, v in model.params.items() if k != "rounds"}
                run.notes.setdefault("grids", {})[name] = {"points": search.curve, "ended": search.ended}
            run.notes.setdefault("params", {})[name] = model.params
            if model.curve:
                run.fitted(name, rounds=model.params["rounds"], rounds_run=len(model.curve))
                if first is None:
                    run.notes.setdefault("booster_curves", {})[name] = {
                        "every": CURVE_EVERY,
                        "val_pr_auc": [round(v, 5) for v in model.curve[::CURVE_EVERY]],
                        "rounds_kept": model.params["rounds"],
                    }
            val = model.score(Xva)
            fit_s, t = time.time() - t, time.time()
            judged = {}
            for part, ex in data.judged().items():
                judged[part] = chunked(ex, lambda e, gs, rs: model.score(e.X(rs)))  # noqa: B023 (called now)
                if part == "test":
                    test_s = time.time() - t
            run.scored(name, val, judged)
            run.cost(name, fit_s, test_s, data.te.n)


def _fit_networks(
    run: SeedRun, cfg: TrainConfig, data: TrainingData, stage: Stages, log: Callable[[str], None]
) -> None:
    """Every reference network of one seed, on the inputs built once."""
    ytr = data.tr.y[data.rows]
    judged = data.judged()
    assert data.nets is not None, "the reference networks need their inputs"
    for name in NETWORKS:
        with stage(f"seed {run.seed}: {name}"):
            res = fit_and_score(
                name,
                data.nets,
                ytr,
                data.va.y,
                list(judged.values()),
                cfg.network_epochs,
                cfg.network_patience,
                run.seed,
                log if cfg.progress else None,
            )
            run.scored(name, res.fit.val_scores, dict(zip(judged, res.scores)))
            run.cost(name, res.fit.seconds, res.test_s, data.te.n)
            run.fitted(name, epochs=res.fit.epochs, kept_epoch=res.fit.best_epoch + 1)
            run.notes.setdefault("network_curves", {})[name] = {
                "val_pr_auc": res.fit.curve,
                "smoothed": res.fit.smoothed,
                "kept_epoch": res.fit.best_epoch + 1,
            }


def fit_seed(
    seed: int,
    cfg: TrainConfig,
    data: TrainingData,
    tuned: dict[str, Any],
    stage: Stages,
    log: Callable[[str], None],
    first: SeedRun | None,
) -> SeedRun:
    """Every model of seed ``seed`` (``first``: the first seed's run, None for it)."""
    run = SeedRun(seed)
    _fit_baselines(run, cfg, data, tuned, stage, first)
    _fit_networks(run, cfg, data, stage, log)
    fit_branches(run, cfg, data, tuned, stage, log)
    return run
