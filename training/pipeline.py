"""``intent train``: data -> examples -> every model, several seeds -> the verdict -> artifact + report.

Stages, each timed and its peak memory printed:

1. read the clickstream; cut the split (:mod:`training.protocol.splits`: by calendar
   days, or by hours for data too short for days, with a weaker-verdict warning);
2. replay it into examples (:mod:`training.protocol.examples`): every validation and
   test moment, the training moments with a purchase and ``neg_group_rate`` of the
   others (each weighing as the moments it stands for); and a **cold replay** of it
   (every user's state emptied at each day's start), whose training days fit the
   cold-start prior, validation day weighs it, and test days judge every model on new
   visitors;
3. the rows every model is fitted on (:class:`~training.fitting.seed_run.TrainingData`):
   the same tabular rows and sample weights for every model (whether the weights are
   used: :mod:`training.fitting.weights`), the networks' inputs and the interaction
   graph grown through every part, point-in-time;
4. per seed (``seeds``, each passed to every model): every model
   (:func:`training.fitting.seed.fit_seed`);
5. the verdict (:mod:`training.judge`): thresholds chosen on validation for one purpose,
   the test days and their cold replay judged with intervals over users and seeds,
   Holm-adjusted comparisons, the budget view and calibration; the served seed chosen on
   validation and its own figures;
6. the served seed's fused model written as the artifact, with the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from models.artifact import save_artifact
from stream.domain.features import FeatureSpec
from stream.domain.readers import read_clickstream
from training.config import TrainConfig
from training.fitting.networks.fit import NetworkData
from training.fitting.networks.interaction_graph import InteractionGraph
from training.fitting.seed import fit_seed
from training.fitting.seed_run import SeedRun, TrainingData
from training.fitting.weights import decide_weights, tabular_rows
from training.judge import choose_served, judge
from training.protocol.attributes import load_catalogue
from training.protocol.budget import DayPairs
from training.protocol.partitioned import build_examples_partitioned
from training.protocol.splits import DAY_MS, WEAKER_VERDICT, CalendarSplit, fitting_horizon
from training.protocol.stages import Stages, peak_rss_mb
from training.run_report import fingerprint, run_report

__all__ = ["TrainConfig", "train", "fingerprint", "cold_resets", "read_data"]


def cold_resets(split: CalendarSplit, day_offset_ms: int) -> list[int]:
    """When the cold replay empties every user's state: each local day's start within the
    data, and each part's (an hours split's parts start inside a day).

    >>> s = CalendarSplit(start=0, val_start=2 * DAY_MS, test_start=3 * DAY_MS, end=4 * DAY_MS, embargo_ms=1)
    >>> [t // DAY_MS for t in cold_resets(s, 0)]
    [1, 2, 3]
    """
    first, last = (split.start - day_offset_ms) // DAY_MS, (split.end - 1 - day_offset_ms) // DAY_MS
    days = {d * DAY_MS + day_offset_ms for d in range(first + 1, last + 1)}
    return sorted(days | {split.val_start, split.test_start})


def read_data(
    data: list[str | Path], fmt: str | None, cfg: TrainConfig, log: Callable[[str], None]
) -> tuple[Any, CalendarSplit, list[str], int]:
    """The events read, the calendar split (by hours for short data, with a warning), the
    warnings and the number of users; shortens ``cfg.horizon_ms`` when validation or test
    is too short for it."""
    read = read_clickstream(data, fmt, stream=True)  # an archive is read from disk on every pass
    times, users = [], set()
    for e in read.events:  # one pass for both: each pass over an archive reads it from disk
        times.append(e.ts)
        users.add(e.user_id)
    if not times:
        raise ValueError("the data set holds no usable events")
    split = CalendarSplit.from_times(times, cfg.horizon_ms, read.day_offset_ms, cfg.val_days, cfg.test_days)
    warnings = []
    if split.unit == "hour":
        warnings.append(WEAKER_VERDICT)
        log(f"WARNING: {WEAKER_VERDICT}")
    horizon = fitting_horizon(split, times, cfg.horizon_ms)
    if horizon != cfg.horizon_ms:
        log(
            f"validation or test lasts under four horizons: horizon {cfg.horizon_ms // 60_000} -> "
            f"{horizon // 60_000} minutes"
        )
        cfg.horizon_ms = horizon
        split = replace(split, embargo_ms=horizon)
    return read, split, warnings, len(users)


def _training_data(
    read: Any,
    parts: dict[str, Any],
    cold: dict[str, Any],
    cfg: TrainConfig,
    split: CalendarSplit,
    stage: Stages,
) -> tuple[TrainingData, dict[str, Any], InteractionGraph]:
    tr, va = parts["train"], parts["val"]
    rows, w_rows = tabular_rows(tr.y, tr.weights(), cfg.neg_ratio, cfg.seeds[0])
    Xtr = tr.X(rows)
    with stage("sample weights"):
        decision = decide_weights(cfg.sample_weights, Xtr, tr.y[rows], w_rows, va.X(), va.y, cfg.seeds[0])
    w = w_rows if decision["used"] else None
    with stage("network inputs"):
        # grown through every part, read point-in-time; embeddings for the training period's nodes
        graph = InteractionGraph.from_events(read.events, known_until=split.val_start)
        nets = NetworkData.build(tr, rows, Xtr, va, graph, w)
    pairs = DayPairs.of_examples(va, read.day_offset_ms)
    return TrainingData(tr, va, parts["test"], rows, Xtr, w, nets, pairs, cold), decision, graph


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
        read, split, warnings, _ = read_data(data, fmt, cfg, log)
        catalogue = load_catalogue(read.files)
        spec = FeatureSpec()
    log(
        f"read {len(read.events):,} events from {len(read.files)} file(s); skipped {dict(read.skipped)}; "
        f"active {split.unit}s train/val/test {split.days}; horizon {cfg.horizon_ms // 60_000} minutes"
    )

    def progress(done: int, total: int) -> None:
        if cfg.progress and done and done % 100_000 < 20_000:
            log(f"    replayed {done:,} of {total:,} events")

    replay = dict(
        catalogue=catalogue,
        spec=spec,
        n_candidates=cfg.n_candidates,
        horizon_ms=cfg.horizon_ms,
        split=split,
        neg_group_rate=cfg.neg_group_rate,
        seed=cfg.seeds[0],
        progress=progress,
    )
    with stage("build examples"):
        parts = build_examples_partitioned(read.events, cfg.workers, cfg.cluster, **replay)
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
    with stage("cold replay"):
        resets = cold_resets(split, read.day_offset_ms)
        cold = build_examples_partitioned(read.events, cfg.workers, cfg.cluster, reset_at=resets, **replay)
    cold_te = cold["test"]
    log(f"cold replay: validation {cold['val'].n:,} rows, test {cold_te.n:,} (pos {int(cold_te.y.sum())})")
    td, weights, graph = _training_data(read, parts, cold, cfg, split, stage)
    log(f"sample weights: {weights['reason']}")
    tuned: dict[str, Any] = {}
    runs: list[SeedRun] = []
    for seed in cfg.seeds:
        runs.append(fit_seed(seed, cfg, td, tuned, stage, log, runs[0] if runs else None))
    with stage("evaluate on test"):
        served_at, served_val = choose_served(runs, va.y)
        verdict = judge(runs, td, cfg, read.day_offset_ms, served_at)
    served = runs[served_at].scorer
    assert served is not None
    version = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + fingerprint(read.files)[:8]
    served.model_version = version
    report, manifest, extra_files = run_report(
        verdict,
        runs,
        td,
        cfg,
        split,
        read,
        stage,
        version=version,
        served_at=served_at,
        served_val=served_val,
        weights=weights,
        warnings=warnings,
        graph=graph,
    )
    save_artifact(Path(out), served, catalogue, spec, manifest, extra_files)
    log(f"wrote {out} (model {version}) in {stage.total():.0f}s, peak RSS {peak_rss_mb():,.0f} MB")
    return report
