"""The new model against the artifact served now, on the same test rows: the paired
difference of PR-AUC and ROC-AUC, bootstrapped by user (``intent train --serve``).

Both models score the same rows (the same moments, candidates and labels: which rows
exist depends on the events, the split and the candidate count, never on a model), so
each resample of users draws the same users for both and the difference is paired. A
served artifact whose catalogue differs has the test days replayed again with its own
catalogue (its features as it would compute them; the rows are the same, checked); one
with another candidate count or feature spec cannot score these rows and is not compared
(the reason is recorded).

A reading is ``better`` when the 95% interval of new minus served lies above 0,
``worse`` when below, ``cannot_tell`` otherwise (one comparison per metric: no family to
adjust for).

>>> reading([0.001, 0.01, 0.02]), reading([-0.02, -0.01, -0.001]), reading([-0.01, 0.0, 0.01])
('better', 'worse', 'cannot_tell')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from models.artifact import LoadedModel
from training.protocol.bootstrap import UserBootstrap
from training.protocol.example_set import ExampleSet
from training.protocol.served import score_part

__all__ = ["compare_with_served", "reading", "COMPARED"]

#: the metrics compared, each with its paired interval and reading
COMPARED = ("pr_auc", "roc_auc")


def reading(diff: list[float]) -> str:
    """``better``, ``worse`` or ``cannot_tell`` from a ``[lo, median, hi]`` interval of new minus served."""
    lo, _, hi = diff
    return "better" if lo > 0 else "worse" if hi < 0 else "cannot_tell"


def compare_with_served(
    served: LoadedModel,
    te: ExampleSet,
    new_scores: np.ndarray,
    new_threshold: float,
    n_candidates: int,
    rebuild_test: Callable[[Any], ExampleSet],
    catalogue_json: bytes,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    """What ``manifest["serve_run"]["compared_with"]`` holds: the served version, its test
    figures on these rows with intervals, and per metric of :data:`COMPARED` the paired
    difference (new minus served: ``[lo, median, hi]``, the point, the share of resamples
    where the new model is better, the p-value) and its reading. ``rebuild_test(catalogue)``
    replays the test days with another catalogue."""
    out: dict[str, Any] = {
        "model_version": served.manifest.get("model_version"),
        "path": str(served.path),
    }
    if served.scorer.n_items != n_candidates:
        out["not_compared"] = (
            f"the served model scores {served.scorer.n_items} candidates a moment, this run {n_candidates}"
        )
        return out
    rows = te
    if served.catalogue.to_json() != catalogue_json:
        rows = rebuild_test(served.catalogue)
        if rows.n != te.n or not np.array_equal(rows.y, te.y):
            out["not_compared"] = "the test days replayed with the served catalogue gave other rows"
            return out
        out["catalogue"] = "the served artifact's own (the test days replayed with it)"
    _, _, old_scores = score_part(served.scorer, rows)
    boot = UserBootstrap(te.y, te.row_users(), te.cover, te.purchase_users(), n_boot=n_boot, seed=seed)
    res = boot.run(
        {"new": [new_scores], "served": [old_scores]},
        {"new": [new_threshold], "served": [served.scorer.threshold]},
    )
    out["served_figures"] = {"point": res["served"]["point"], "ci": res["served"]["ci"]}
    out["n_boot"] = n_boot
    out["paired"] = {}
    for metric in COMPARED:
        p = UserBootstrap.paired(res, "new", "served", metric)
        p["reading"] = reading(p[f"{metric}_diff"])
        out["paired"][metric] = p
    return out
