"""Score an :class:`~training.examples.ExampleSet` with a loaded artifact (``intent evaluate``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.artifact import load_artifact
from models.fusion import resnet_probabilities
from stream.readers import read_clickstream
from training.examples import DEFAULT_HORIZON_MS, build_examples
from training.pipeline import evaluation_summary

__all__ = ["evaluate_artifact"]


def evaluate_artifact(model_dir: Path, data: list[str | Path], fmt: str | None = None,
                      progress: bool = False) -> dict[str, Any]:
    """Metrics of the artifact's branches and fusion on every example of ``data``."""
    loaded = load_artifact(model_dir)
    read = read_clickstream(data, fmt)
    horizon = int(loaded.manifest.get("training_data", {}).get("horizon_ms", DEFAULT_HORIZON_MS))
    scorer = loaded.scorer
    ex = build_examples(read.events, loaded.catalogue, loaded.spec, scorer.n_items, horizon, progress)
    p_r = resnet_probabilities(scorer.resnet, ex.U, ex.I, ex.sizes)
    p_f = scorer.forest.predict_proba(np.hstack([ex.U, ex.I]))
    p = scorer.combine(p_r, p_f, ex.U, ex.I)
    trained = loaded.manifest.get("metrics", {})
    thresholds = {
        "resnet": trained.get("resnet", {}).get("threshold", 0.5),
        "deep_forest": trained.get("deep_forest", {}).get("threshold", 0.5),
        "fused": scorer.threshold,
    }
    return evaluation_summary(ex, {"resnet": p_r, "deep_forest": p_f, "fused": p}, thresholds)
