"""Score a data set with a loaded artifact (``intent evaluate``).

By default every moment of the data is an example (no split: the whole data set is
judged), with label windows cut at the end of the data. With ``part="test"`` (``--part
test``) the data is replayed whole and only the artifact's own test days are judged,
with the split, embargo, horizon and evaluation settings its manifest records: on the
data it was trained on, that is exactly the run's ``served`` figures. Either way the
artifact's branches and fusion are judged by the same protocol as training
(:func:`training.protocol.evaluation.summarize`), at the thresholds chosen when it was
trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.artifact import ArtifactError, load_artifact
from models.fusion import FusedScorer
from stream.domain.labels import DEFAULT_HORIZON_MS
from stream.domain.readers import read_clickstream
from training.protocol.evaluation import summarize
from training.protocol.example_set import ExampleSet
from training.protocol.examples import build_examples
from training.protocol.splits import CalendarSplit

__all__ = ["evaluate_artifact", "score_part", "PARTS"]

PARTS = ("all", "test")


def score_part(scorer: FusedScorer, ex: ExampleSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A loaded artifact's calibrated branches and served probability on every row of
    ``ex``, a chunk of groups at a time."""
    c_r = np.zeros(ex.n, dtype=np.float32)
    c_f = np.zeros(ex.n, dtype=np.float32)
    fused = np.zeros(ex.n, dtype=np.float32)
    for gs, rs in ex.group_chunks():
        c_r[rs], c_f[rs] = scorer.branch_probabilities(ex.U[gs], ex.I[rs], ex.sizes[gs], u_per_group=True)
        fused[rs] = scorer.combine(c_r[rs], c_f[rs], ex.U_rows(rs), ex.I[rs])
    return c_r, c_f, fused


def evaluate_artifact(
    model_dir: Path,
    data: list[str | Path],
    fmt: str | None = None,
    progress: bool = False,
    n_boot: int | None = None,
    part: str = "all",
) -> dict[str, Any]:
    """Metrics, with intervals by user, of the artifact's branches and fusion on ``data``
    (``part``: ``all`` of it, or the artifact's ``test`` days); ``n_boot`` None: the
    manifest's (200 for an artifact that records none)."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    loaded = load_artifact(model_dir)
    manifest = loaded.manifest
    read = read_clickstream(data, fmt, stream=True)  # an archive: read from disk on every pass
    horizon = int(manifest.get("training_data", {}).get("horizon_ms", DEFAULT_HORIZON_MS))
    evaluation = manifest.get("evaluation", {})
    scorer = loaded.scorer

    def report(done: int, total: int) -> None:
        if progress and done % 20_000 == 0:
            print(f"  replayed {done:,} of {total:,} events", flush=True)

    split = None
    if part == "test":
        if "split" not in manifest:
            raise ArtifactError(f"{model_dir}: its manifest records no split (trained before it did)")
        split = CalendarSplit(**{**manifest["split"], "days": tuple(manifest["split"]["days"])})
    parts = build_examples(
        read.events,
        loaded.catalogue,
        loaded.spec,
        scorer.n_items,
        horizon,
        split,
        progress=report,
        parts_wanted=None if split is None else ["test"],
    )
    ex = parts[part]
    c_r, c_f, fused = score_part(scorer, ex)
    # the served seed's thresholds (an artifact before they were recorded: the seeds' mean)
    trained = manifest.get("thresholds") or {
        name: m.get("threshold", 0.5) for name, m in manifest.get("metrics", {}).items()
    }
    thresholds = {
        "resnet": [trained.get("resnet", 0.5)],
        "deep_forest": [trained.get("deep_forest", 0.5)],
        "fused": [scorer.threshold],
    }
    return summarize(
        ex,
        {"resnet": [c_r], "deep_forest": [c_f], "fused": [fused]},
        thresholds,
        int(evaluation.get("n_boot", 200)) if n_boot is None else n_boot,
        int(evaluation.get("seed", 0)),
        None,
        int(evaluation.get("day_offset_ms", 0)),
        tuple(evaluation.get("budgets", ())),
    )
