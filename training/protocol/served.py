"""Score a data set with a loaded artifact (``intent evaluate``).

Every moment of the data is an example (no split: the whole data set is judged), with
label windows cut at the end of the data; the artifact's branches and fusion are
judged by the same protocol as training (:func:`training.protocol.evaluation.summarize`), at
the thresholds chosen when it was trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.artifact import load_artifact
from stream.domain.labels import DEFAULT_HORIZON_MS
from stream.domain.readers import read_clickstream
from training.protocol.evaluation import summarize
from training.protocol.examples import build_examples

__all__ = ["evaluate_artifact"]


def evaluate_artifact(
    model_dir: Path, data: list[str | Path], fmt: str | None = None, progress: bool = False, n_boot: int = 200
) -> dict[str, Any]:
    """Metrics, with intervals by user, of the artifact's branches and fusion on ``data``."""
    loaded = load_artifact(model_dir)
    read = read_clickstream(data, fmt)
    horizon = int(loaded.manifest.get("training_data", {}).get("horizon_ms", DEFAULT_HORIZON_MS))
    scorer = loaded.scorer

    def report(done: int, total: int) -> None:
        if progress and done % 20_000 == 0:
            print(f"  replayed {done:,} of {total:,} events", flush=True)

    ex = build_examples(read.events, loaded.catalogue, loaded.spec, scorer.n_items, horizon, progress=report)[
        "all"
    ]
    c_r = np.zeros(ex.n, dtype=np.float32)
    c_f = np.zeros(ex.n, dtype=np.float32)
    fused = np.zeros(ex.n, dtype=np.float32)
    for gs, rs in ex.group_chunks():
        c_r[rs], c_f[rs] = scorer.branch_probabilities(ex.U[gs], ex.I[rs], ex.sizes[gs], u_per_group=True)
        fused[rs] = scorer.combine(c_r[rs], c_f[rs], ex.U_rows(rs), ex.I[rs])
    # the served seed's thresholds (an artifact before they were recorded: the seeds' mean)
    trained = loaded.manifest.get("thresholds") or {
        name: m.get("threshold", 0.5) for name, m in loaded.manifest.get("metrics", {}).items()
    }
    thresholds = {
        "resnet": [trained.get("resnet", 0.5)],
        "deep_forest": [trained.get("deep_forest", 0.5)],
        "fused": [scorer.threshold],
    }
    return summarize(ex, {"resnet": [c_r], "deep_forest": [c_f], "fused": [fused]}, thresholds, n_boot)
