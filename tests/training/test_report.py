"""The verdict reads the paired intervals; it never claims more than they show."""
from __future__ import annotations

from training.report import verdict


def _paired(lo: float, hi: float) -> dict[str, object]:
    return {"pr_auc_diff": [lo, (lo + hi) / 2, hi], "point": (lo + hi) / 2, "p_better": 0.5}


def test_the_claim_holds_only_when_every_boosting_baseline_is_beaten_outside_the_noise() -> None:
    summary = {"paired": {"xgboost": _paired(0.01, 0.05), "lightgbm": _paired(-0.01, 0.04),
                          "deep_forest": _paired(-0.01, 0.02)}}
    text = verdict(summary)
    assert "does not hold" in text and "better, outside the noise, than xgboost" in text
    assert "not distinguishable from lightgbm" in text and "adds nothing measurable" in text
    summary["paired"]["lightgbm"] = _paired(0.001, 0.04)
    assert "claim (the fusion beats each gradient-boosting baseline) holds" in verdict(summary)


def test_a_served_model_without_the_resnet_is_said_to_serve_the_forest_alone() -> None:
    summary = {"paired": {"xgboost": _paired(0.01, 0.05), "deep_forest": _paired(0.001, 0.03)},
               "fusion": {"per_seed": [{"seed": 0, "w_r": 0.0}, {"seed": 1, "w_r": 0.35}]}}
    text = verdict(summary)
    assert "the ResNet earns its weight" in text
    assert "serves the forest branch alone" in text and "0.0, 0.35" in text
